//! A default Tauri v2 window showing one static page: what any Tauri app costs before its own
//! code. `bench/app.py` compares the app's start-up and idle memory with it. It prints the same
//! page-loaded line as the app when `EMBARGO_STARTUP_PROBE` is set.
#![forbid(unsafe_code)]

fn main() {
    let probe = std::env::var_os("EMBARGO_STARTUP_PROBE").is_some();
    tauri::Builder::default()
        .on_page_load(move |_, payload| {
            if probe && payload.event() == tauri::webview::PageLoadEvent::Finished {
                eprintln!("embargo-startup-probe: page loaded");
            }
        })
        .run(tauri::generate_context!())
        .expect("the bare window runs");
}
