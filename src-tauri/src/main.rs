//! The `embargo-app` binary.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    // WebKitGTK's accelerated compositing costs ~120 MB of RSS and startup time (measured with
    // bench/app.py) and buys nothing for a page without animation or WebGL. Users can still turn
    // it back on by setting the variable to 0.
    #[cfg(target_os = "linux")]
    if std::env::var_os("WEBKIT_DISABLE_COMPOSITING_MODE").is_none() {
        std::env::set_var("WEBKIT_DISABLE_COMPOSITING_MODE", "1");
    }
    embargo_app::run();
}
