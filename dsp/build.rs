//! Detects the shipped model file so that it can be compiled in with `include_bytes!`.

use std::path::Path;

fn main() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets/model");
    println!("cargo::rustc-check-cfg=cfg(quell_shipped_model)");
    println!("cargo::rerun-if-changed={}", dir.display());
    if dir.join("quell.safetensors").is_file() {
        println!(
            "cargo::rerun-if-changed={}",
            dir.join("quell.safetensors").display()
        );
        println!("cargo::rustc-cfg=quell_shipped_model");
    }
}
