//! Generates the NS payload's linker script from the board's data (it runs
//! where root enters the Normal world), and puts the realm guest's flat
//! image where `include_bytes!` finds it: `$OUT_DIR/guest.bin`, a copy of
//! the file `RAMPART_GUEST_BIN` names (xtask builds the guest first and sets
//! it), or an empty file when it is unset (plain `cargo build`/`clippy`:
//! nshost then reports the guest scenario as failed instead of running it).
//!
//! Two variables serve the TF-A interop run (`cargo xtask interop`):
//! `RAMPART_NS_BASE` (hex or decimal) links nshost at another address than
//! the board's `ns_entry`, e.g. where TF-A's QEMU BL2 loads BL33
//! (`NS_IMAGE_OFFSET`, 0x60000000); `RAMPART_NSHOST_EL3=tf-a` says the
//! Monitor is TF-A's BL31, not Rampart's root (cfg `el3_tf_a`): cases that
//! check root-only behaviour then say what they skip or relax.

use rampart_board::link::{ImageLayout, write_script};
use std::{env, fs, path::PathBuf};

fn main() {
    let board = &rampart_board_qemu_virt::BOARD;
    println!("cargo:rerun-if-env-changed=RAMPART_NS_BASE");
    let ram_base = match env::var("RAMPART_NS_BASE") {
        Ok(text) => parse_address(&text)
            .unwrap_or_else(|| panic!("RAMPART_NS_BASE={text:?} is not an address")),
        Err(_) => board.ns_entry,
    };
    assert!(
        ram_base.is_multiple_of(0x1000),
        "RAMPART_NS_BASE {ram_base:#x} is not 4 KB aligned"
    );
    println!("cargo:rustc-check-cfg=cfg(el3_tf_a)");
    println!("cargo:rerun-if-env-changed=RAMPART_NSHOST_EL3");
    match env::var("RAMPART_NSHOST_EL3").as_deref() {
        Ok("tf-a") => println!("cargo:rustc-cfg=el3_tf_a"),
        Ok("rampart") | Err(_) => {}
        Ok(other) => panic!("RAMPART_NSHOST_EL3={other:?}: expected `rampart` or `tf-a`"),
    }
    let layout = ImageLayout {
        ram_base,
        ram_size: 16 << 20,
        reset_at: None,
        stack_size: 0x4000,
        cpus: board.topology.cpu_count as u64,
    };
    let mut script = String::new();
    write_script(&mut script, &layout).expect("script");
    let out = PathBuf::from(env::var("OUT_DIR").unwrap());
    fs::write(out.join("nshost.x"), script).unwrap();
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rustc-link-arg-bins=-Tnshost.x");
    println!("cargo:rustc-link-arg-bins=-Tdefmt.x");
    println!("cargo:rerun-if-changed=build.rs");

    let guest = out.join("guest.bin");
    println!("cargo:rerun-if-env-changed=RAMPART_GUEST_BIN");
    match env::var_os("RAMPART_GUEST_BIN") {
        Some(path) => {
            let path = PathBuf::from(path);
            println!("cargo:rerun-if-changed={}", path.display());
            fs::copy(&path, &guest)
                .unwrap_or_else(|e| panic!("copying the guest image {}: {e}", path.display()));
        }
        None => fs::write(&guest, []).unwrap(),
    }
}

fn parse_address(text: &str) -> Option<u64> {
    let text = text.trim();
    match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(&hex.replace('_', ""), 16).ok(),
        None => text.parse().ok(),
    }
}
