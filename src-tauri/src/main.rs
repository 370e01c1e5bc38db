//! The `embargo-app` binary.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    embargo_app::run();
}
