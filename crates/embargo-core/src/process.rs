//! The process's own protection of the secrets it holds.

use std::io;

/// Makes this process non-dumpable and sets its core-file limit to zero, so a crash writes no
/// core file holding a report or an unlocked key, and other processes of the same user cannot
/// ptrace it or read its memory through `/proc` (root still can). Called first thing by the CLI
/// and the app. Helper processes the app's webview starts (WebKit's web and network processes)
/// are outside this: see the README.
pub fn forbid_core_dumps() -> io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        use rustix::process::{
            set_dumpable_behavior, setrlimit, DumpableBehavior, Resource, Rlimit,
        };
        set_dumpable_behavior(DumpableBehavior::NotDumpable)?;
        setrlimit(
            Resource::Core,
            Rlimit {
                current: Some(0),
                maximum: Some(0),
            },
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    #[cfg(target_os = "linux")]
    fn a_child_that_forbids_core_dumps_is_not_dumpable() {
        // In a child process so the test binary itself stays as it was.
        if std::env::var_os("EMBARGO_TEST_DUMPABLE_CHILD").is_some() {
            super::forbid_core_dumps().unwrap();
            let d = rustix::process::dumpable_behavior().unwrap();
            let core = rustix::process::getrlimit(rustix::process::Resource::Core);
            println!("dumpable={d:?} core={:?}/{:?}", core.current, core.maximum);
            return;
        }
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "process::tests::a_child_that_forbids_core_dumps_is_not_dumpable",
                "--nocapture",
            ])
            .env("EMBARGO_TEST_DUMPABLE_CHILD", "1")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("dumpable=NotDumpable core=Some(0)/Some(0)"),
            "{text}"
        );
    }
}
