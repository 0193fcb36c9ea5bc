//! Generates the NS payload's linker script from the board's data (it runs
//! where root enters the Normal world), and puts the realm guest's flat
//! image where `include_bytes!` finds it: `$OUT_DIR/guest.bin`, a copy of
//! the file `RAMPART_GUEST_BIN` names (xtask builds the guest first and sets
//! it), or an empty file when it is unset (plain `cargo build`/`clippy`:
//! nshost then reports the guest scenario as failed instead of running it).

use rampart_board::link::{ImageLayout, write_script};
use std::{env, fs, path::PathBuf};

fn main() {
    let board = &rampart_board_qemu_virt::BOARD;
    let layout = ImageLayout {
        ram_base: board.ns_entry,
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
