//! A raw arm64 `Image` from Debian's vmlinuz, and the initramfs (newc cpio,
//! gzip) holding busybox and tests/linux/init.

use std::io::{Read, Write};

use anyhow::{Context, bail, ensure};

/// The arm64 Image header (Linux's Documentation/arch/arm64/booting.rst):
/// its magic "ARM\x64" sits at offset 0x38, `text_offset` at 0x08 and the
/// effective `image_size` at 0x10, both little-endian u64.
const IMAGE_MAGIC: &[u8; 4] = b"ARM\x64";
const IMAGE_MAGIC_AT: usize = 0x38;
const IMAGE_HEADER_LEN: usize = 0x40;

/// EFI zboot (CONFIG_EFI_ZBOOT): a PE "MZ" stub with "zimg" at offset 4,
/// the compressed payload's offset and size at 8 and 12 (u32) and the
/// compression's name, NUL-padded, at 0x18.
const ZBOOT_MAGIC: &[u8; 4] = b"zimg";

const GZIP_MAGIC: &[u8; 2] = b"\x1f\x8b";

/// What the header of a raw arm64 Image says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ImageHeader {
    pub text_offset: u64,
    /// Bytes the kernel occupies from its load address, bss included; 0 in
    /// kernels older than 3.17.
    pub image_size: u64,
}

fn le_u64(bytes: &[u8], at: usize) -> u64 {
    let mut word = [0; 8];
    word.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(word)
}

fn le_u32(bytes: &[u8], at: usize) -> usize {
    let mut word = [0; 4];
    word.copy_from_slice(&bytes[at..at + 4]);
    u32::from_le_bytes(word) as usize
}

pub fn image_header(image: &[u8]) -> Option<ImageHeader> {
    if image.len() < IMAGE_HEADER_LEN || &image[IMAGE_MAGIC_AT..IMAGE_MAGIC_AT + 4] != IMAGE_MAGIC {
        return None;
    }
    Some(ImageHeader {
        text_offset: le_u64(image, 0x08),
        image_size: le_u64(image, 0x10),
    })
}

fn gunzip(data: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(data)
        .read_to_end(&mut out)
        .context("gunzip")?;
    Ok(out)
}

/// Turns what a kernel package ships as vmlinuz into a raw Image a boot
/// loader (or firmware) can enter directly: a raw Image (with or without
/// its EFI stub) as is, a gzip stream or an EFI zboot image unpacked.
pub fn raw_image(vmlinuz: &[u8]) -> anyhow::Result<(Vec<u8>, &'static str)> {
    if image_header(vmlinuz).is_some() {
        return Ok((vmlinuz.to_vec(), "raw Image"));
    }
    let (image, format) = if vmlinuz.starts_with(GZIP_MAGIC) {
        (gunzip(vmlinuz)?, "gzip")
    } else if vmlinuz.len() >= 0x20 && vmlinuz.starts_with(b"MZ") && &vmlinuz[4..8] == ZBOOT_MAGIC {
        let offset = le_u32(vmlinuz, 0x08);
        let size = le_u32(vmlinuz, 0x0c);
        let kind: String = vmlinuz[0x18..0x20]
            .iter()
            .take_while(|&&b| b != 0)
            .map(|&b| char::from(b))
            .collect();
        let payload = vmlinuz
            .get(offset..offset + size)
            .context("EFI zboot payload lies outside the file")?;
        ensure!(
            kind == "gzip",
            "EFI zboot image compressed with {kind:?}; only gzip is supported"
        );
        (gunzip(payload)?, "EFI zboot (gzip)")
    } else {
        bail!("vmlinuz is neither a raw arm64 Image, gzip nor EFI zboot");
    };
    ensure!(
        image_header(&image).is_some(),
        "unpacked {format} vmlinuz has no arm64 Image magic at 0x38"
    );
    Ok((image, format))
}

/// One entry of the initramfs.
pub enum Entry<'a> {
    Dir(&'a str),
    File {
        path: &'a str,
        mode: u32,
        data: &'a [u8],
    },
    Symlink {
        path: &'a str,
        target: &'a str,
    },
    CharDevice {
        path: &'a str,
        major: u32,
        minor: u32,
    },
}

const S_IFDIR: u32 = 0o040000;
const S_IFREG: u32 = 0o100000;
const S_IFLNK: u32 = 0o120000;
const S_IFCHR: u32 = 0o020000;

/// An uncompressed "newc" cpio archive (the initramfs format Linux's
/// Documentation/driver-api/early-userspace/buffer-format.rst describes):
/// per entry a 110-byte ASCII-hex header, the NUL-terminated name and the
/// data, each padded to 4 bytes; a "TRAILER!!!" entry ends it. All files
/// are owned by root, with a fixed mtime so the archive is reproducible.
pub fn newc_cpio(entries: &[Entry]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut ino = 1;
    let mut push = |out: &mut Vec<u8>, name: &str, mode: u32, rdev: (u32, u32), data: &[u8]| {
        let nlink = if mode & S_IFDIR != 0 { 2 } else { 1 };
        let fields = [
            ino,
            mode,
            0, // uid
            0, // gid
            nlink,
            0, // mtime
            u32::try_from(data.len()).expect("initramfs file over 4 GiB"),
            0, // dev major
            0, // dev minor
            rdev.0,
            rdev.1,
            u32::try_from(name.len() + 1).expect("name length"),
            0, // check
        ];
        out.extend_from_slice(b"070701");
        for field in fields {
            out.extend_from_slice(format!("{field:08x}").as_bytes());
        }
        out.extend_from_slice(name.as_bytes());
        out.push(0);
        pad4(out);
        out.extend_from_slice(data);
        pad4(out);
        ino += 1;
    };
    for entry in entries {
        match *entry {
            Entry::Dir(path) => push(&mut out, path, S_IFDIR | 0o755, (0, 0), &[]),
            Entry::File { path, mode, data } => push(&mut out, path, S_IFREG | mode, (0, 0), data),
            Entry::Symlink { path, target } => {
                push(&mut out, path, S_IFLNK | 0o777, (0, 0), target.as_bytes())
            }
            Entry::CharDevice { path, major, minor } => {
                push(&mut out, path, S_IFCHR | 0o600, (major, minor), &[])
            }
        }
    }
    push(&mut out, "TRAILER!!!", 0, (0, 0), &[]);
    out
}

fn pad4(out: &mut Vec<u8>) {
    while !out.len().is_multiple_of(4) {
        out.push(0);
    }
}

/// The test's initramfs: busybox (static) at /bin/busybox, /bin/sh linking
/// to it, /init, the mount points the init uses and /dev/console, which the
/// kernel opens for init's stdio before devtmpfs is mounted.
pub fn initramfs(busybox: &[u8], init: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mut entries: Vec<Entry> = [
        "bin", "sbin", "usr", "usr/bin", "usr/sbin", "dev", "proc", "sys", "tmp", "root",
    ]
    .into_iter()
    .map(Entry::Dir)
    .collect();
    entries.extend([
        Entry::CharDevice {
            path: "dev/console",
            major: 5,
            minor: 1,
        },
        Entry::File {
            path: "bin/busybox",
            mode: 0o755,
            data: busybox,
        },
        Entry::Symlink {
            path: "bin/sh",
            target: "busybox",
        },
        Entry::File {
            path: "init",
            mode: 0o755,
            data: init,
        },
    ]);
    let cpio = newc_cpio(&entries);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(&cpio)?;
    Ok(gz.finish()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake_image(size: usize) -> Vec<u8> {
        let mut image = vec![0u8; size];
        image[0..2].copy_from_slice(b"MZ");
        image[0x10..0x18].copy_from_slice(&0x2f0_0000u64.to_le_bytes());
        image[IMAGE_MAGIC_AT..IMAGE_MAGIC_AT + 4].copy_from_slice(IMAGE_MAGIC);
        image
    }

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(data).unwrap();
        gz.finish().unwrap()
    }

    #[test]
    fn raw_gzip_and_zboot_kernels_become_the_same_image() {
        let image = fake_image(4096);
        assert_eq!(
            image_header(&image),
            Some(ImageHeader {
                text_offset: 0,
                image_size: 0x2f0_0000
            })
        );
        assert_eq!(raw_image(&image).unwrap(), (image.clone(), "raw Image"));
        assert_eq!(raw_image(&gzip(&image)).unwrap().0, image);

        let payload = gzip(&image);
        let mut zboot = vec![0u8; 0x40];
        zboot[0..2].copy_from_slice(b"MZ");
        zboot[4..8].copy_from_slice(ZBOOT_MAGIC);
        zboot[8..12].copy_from_slice(&0x40u32.to_le_bytes());
        zboot[12..16].copy_from_slice(&u32::try_from(payload.len()).unwrap().to_le_bytes());
        zboot[0x18..0x1c].copy_from_slice(b"gzip");
        zboot.extend_from_slice(&payload);
        assert_eq!(raw_image(&zboot).unwrap(), (image, "EFI zboot (gzip)"));

        zboot[0x18..0x1c].copy_from_slice(b"zstd");
        assert!(raw_image(&zboot).is_err());
        assert!(raw_image(b"not a kernel at all, far too short").is_err());
        assert!(raw_image(&gzip(b"a gzip stream that is no kernel")).is_err());
    }

    #[test]
    fn newc_layout() {
        let cpio = newc_cpio(&[
            Entry::Dir("bin"),
            Entry::File {
                path: "init",
                mode: 0o755,
                data: b"#!/bin/sh\n",
            },
        ]);
        // Header: magic, then 13 fields of 8 hex digits.
        assert_eq!(&cpio[..6], b"070701");
        assert_eq!(&cpio[6 + 8..6 + 16], b"000041ed"); // directory, 0755
        assert_eq!(&cpio[110..114], b"bin\0");
        // Every entry starts 4-aligned: header and "bin\0" (114 bytes) pad to 116.
        let second = 116;
        assert_eq!(&cpio[second..second + 6], b"070701");
        assert_eq!(&cpio[second + 6 + 8..second + 6 + 16], b"000081ed");
        // File size 10 and name size 5 ("init\0").
        assert_eq!(&cpio[second + 6 + 6 * 8..second + 6 + 7 * 8], b"0000000a");
        assert_eq!(&cpio[second + 6 + 11 * 8..second + 6 + 12 * 8], b"00000005");
        let data_at = second + 116; // header and "init\0" (115 bytes) pad to 116
        assert_eq!(&cpio[data_at..data_at + 10], b"#!/bin/sh\n");
        let trailer = data_at + 12;
        assert_eq!(&cpio[trailer + 110..trailer + 121], b"TRAILER!!!\0");
        assert_eq!(cpio.len() % 4, 0);
    }
}
