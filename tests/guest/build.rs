//! Generates the guest's linker script from its layout (`src/layout.rs`,
//! shared with the guest and with nshost): the image at `layout::BASE`, at
//! most `layout::IMAGE_SIZE` bytes, then `.bss` and the stacks in the RAM
//! pages that follow.

use std::{env, fs, path::PathBuf};

#[path = "src/layout.rs"]
#[allow(dead_code)]
mod layout;

fn main() {
    use layout::*;
    let image_end = BASE + IMAGE_SIZE;
    let ram_end = RAM + RAM_SIZE;
    let stacks = STACK_SIZE * CPUS;
    let script = format!(
        "ENTRY(_start)
SECTIONS {{
  .text {BASE:#x} : {{ __image_start = .; KEEP(*(.text.entry)) *(.text .text.*) }}
  .rodata : ALIGN(16) {{ *(.rodata .rodata.*) }}
  .data : ALIGN(16) {{ *(.data .data.*) *(.got .got.*) }}
  __image_end = .;
  ASSERT(__image_end <= {image_end:#x}, \"the guest image does not fit its {IMAGE_SIZE:#x} bytes\")
  .bss {RAM:#x} (NOLOAD) : {{ __bss_start = .; *(.bss .bss.*) *(COMMON) . = ALIGN(16); __bss_end = .; }}
  .stacks (NOLOAD) : ALIGN(4096) {{ __stacks_start = .; . += {stacks:#x}; __stacks_end = .; }}
  ASSERT(__stacks_end <= {ram_end:#x}, \"the guest's RAM overflows\")
  /DISCARD/ : {{ *(.comment) *(.note .note.*) *(.eh_frame .eh_frame_hdr) }}
}}
"
    );
    let out = PathBuf::from(env::var("OUT_DIR").unwrap());
    fs::write(out.join("guest.x"), script).unwrap();
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rustc-link-arg-bins=-Tguest.x");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=src/layout.rs");
}
