//! The prediction against the real thing: each realm description is
//! played as RMI commands on Rampart's RMM services (the host harness of
//! `rampart-rmm-tests`), once per hash algorithm, and the RIM the realm
//! reads with RSI_MEASUREMENT_READ must be the one predicted.
//!
//! The host side here writes RmiRealmParams and RmiRecParams from the
//! spec's layouts (B4.4.12, B4.4.19) and creates whatever RTTs each
//! command needs, like a hypervisor would.

use rampart_ipc::rec::{RecContext, Trap, TrapKind};
use rampart_ipc::{rmi, rsi};
use rampart_rmm_tests::Rmm;
use rampart_verify::rim::{
    DataPages, InitRipas, Operation, RealmFlags, RealmParams, RecCreate, rtt_entry_size,
};
use rampart_verify::{HashAlgo, RealmDescription, predict_rim, predict_rim_with_files};
use std::cell::RefCell;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::rc::Rc;

const PAGE: u64 = 0x1000;
/// Granules the host delegates, and NS granules it passes (host DRAM).
const DELEGATE_POOL: u64 = 0x4200_0000;
const NS_POOL: u64 = 0x4300_0000;

/// ESR_EL2 of an `smc #0` from the realm (EC 0x17, IL).
const ESR_SMC: u64 = 0x17 << 26 | 1 << 25;

struct Host {
    rmm: Rmm,
    rd: u64,
    next_delegated: u64,
    next_ns: u64,
    /// RTTs created: (level, base IPA).
    tables: HashSet<(u8, u64)>,
    rec_count: u64,
    runnable_rec: Option<u64>,
}

impl Host {
    fn call(&self, fid: u32, args: &[u64]) -> [u64; 5] {
        self.rmm.call(fid, args)
    }

    fn ok(&self, what: &str, fid: u32, args: &[u64]) -> [u64; 5] {
        let r = self.call(fid, args);
        assert_eq!(r[0], 0, "{what} {args:#x?} -> {r:#x?}");
        r
    }

    /// `count` contiguous delegated granules, aligned to their total size.
    fn delegate(&mut self, count: u64) -> u64 {
        let base = self.next_delegated.next_multiple_of(count * PAGE);
        self.next_delegated = base + count * PAGE;
        for i in 0..count {
            self.ok(
                "GRANULE_DELEGATE",
                rmi::GRANULE_DELEGATE,
                &[base + i * PAGE],
            );
        }
        base
    }

    fn ns_page(&mut self, content: &[u8]) -> u64 {
        let page = self.next_ns;
        self.next_ns += PAGE;
        self.rmm.machine.poke(page, 0, &[0; PAGE as usize]);
        self.rmm.machine.poke(page, 0, content);
        page
    }

    fn create(params: &RealmParams, algo: HashAlgo) -> Host {
        let mut host = Host {
            rmm: Rmm::new(),
            rd: 0,
            next_delegated: DELEGATE_POOL,
            next_ns: NS_POOL,
            tables: HashSet::new(),
            rec_count: 0,
            runnable_rec: None,
        };
        host.rd = host.delegate(1);
        // Start at level 1: 2^(s2sz - 39) concatenated tables.
        assert!(
            (39..=42).contains(&params.s2sz),
            "the test host starts RTTs at level 1"
        );
        let root_count = 1u64 << (params.s2sz - 39);
        let root = host.delegate(root_count);
        // RmiRealmParams (B4.4.12).
        let mut p = vec![0u8; PAGE as usize];
        p[0..8].copy_from_slice(&params.flags.bits().to_le_bytes());
        p[0x08] = params.s2sz;
        p[0x10] = params.sve_vl;
        p[0x18] = params.num_bps;
        p[0x20] = params.num_wps;
        p[0x28] = params.pmu_num_ctrs;
        p[0x30] = algo.rmi_encoding();
        p[0x400..0x440].copy_from_slice(&params.rpv.unwrap_or([0; 64]));
        p[0x800..0x802].copy_from_slice(&1u16.to_le_bytes());
        p[0x808..0x810].copy_from_slice(&root.to_le_bytes());
        p[0x810..0x818].copy_from_slice(&1i64.to_le_bytes());
        p[0x818..0x81c].copy_from_slice(&(root_count as u32).to_le_bytes());
        let params_page = host.ns_page(&p);
        host.ok("REALM_CREATE", rmi::REALM_CREATE, &[host.rd, params_page]);
        host
    }

    /// RTTs from level 2 down to `level` over `ipa`.
    fn tables_for(&mut self, ipa: u64, level: u8) {
        for table_level in 2..=level {
            let base = ipa - ipa % rtt_entry_size(table_level - 1);
            if self.tables.insert((table_level, base)) {
                let rtt = self.delegate(1);
                self.ok(
                    "RTT_CREATE",
                    rmi::RTT_CREATE,
                    &[self.rd, rtt, base, u64::from(table_level)],
                );
            }
        }
    }

    fn init_ripas(&mut self, r: &InitRipas) {
        let size = rtt_entry_size(r.level);
        for entry in (r.base..r.top).step_by(size as usize) {
            self.tables_for(entry, r.level);
        }
        let mut at = r.base;
        while at < r.top {
            let out = self.ok("RTT_INIT_RIPAS", rmi::RTT_INIT_RIPAS, &[self.rd, at, r.top]);
            assert!(out[1] > at && out[1] <= r.top, "progress {out:#x?}");
            at = out[1];
        }
    }

    fn data(&mut self, d: &DataPages, dir: &Path, overrides: &[(&str, PathBuf)]) {
        let content = match &d.file {
            Some(name) => {
                let path = overrides
                    .iter()
                    .find(|(n, _)| n == name)
                    .map_or_else(|| dir.join(name), |(_, p)| p.clone());
                let all = std::fs::read(path).unwrap();
                let start = d.offset as usize;
                let end = d.length.map_or(all.len(), |l| start + l as usize);
                all[start..end].to_vec()
            }
            None => Vec::new(),
        };
        let pages = d
            .pages
            .unwrap_or(content.len().div_ceil(PAGE as usize) as u64);
        for page in 0..pages {
            let ipa = d.ipa + page * PAGE;
            self.tables_for(ipa, 3);
            let from = (page * PAGE) as usize;
            let chunk = content
                .get(from..content.len().min(from + PAGE as usize))
                .unwrap_or(&[]);
            let src = self.ns_page(chunk);
            let granule = self.delegate(1);
            let flags = u64::from(d.measure_content);
            self.ok(
                "DATA_CREATE",
                rmi::DATA_CREATE,
                &[self.rd, granule, ipa, src, flags],
            );
        }
    }

    fn rec(&mut self, r: &RecCreate) {
        let aux_count = self.ok("REC_AUX_COUNT", rmi::REC_AUX_COUNT, &[self.rd])[1];
        let rec = self.delegate(1);
        // RmiRecParams (B4.4.19); MPIDR Aff0 = the REC's index.
        let mut p = vec![0u8; PAGE as usize];
        p[0..8].copy_from_slice(&u64::from(r.runnable).to_le_bytes());
        p[0x100..0x108].copy_from_slice(&self.rec_count.to_le_bytes());
        p[0x200..0x208].copy_from_slice(&r.pc.to_le_bytes());
        for (i, value) in r.gprs.iter().enumerate() {
            p[0x300 + 8 * i..0x308 + 8 * i].copy_from_slice(&value.to_le_bytes());
        }
        p[0x800..0x808].copy_from_slice(&aux_count.to_le_bytes());
        for i in 0..aux_count as usize {
            let aux = self.delegate(1);
            p[0x808 + 8 * i..0x810 + 8 * i].copy_from_slice(&aux.to_le_bytes());
        }
        let params = self.ns_page(&p);
        self.ok("REC_CREATE", rmi::REC_CREATE, &[self.rd, rec, params]);
        self.rec_count += 1;
        if r.runnable {
            self.runnable_rec.get_or_insert(rec);
        }
    }

    /// Activates the realm and reads its RIM from inside, with
    /// RSI_MEASUREMENT_READ(0) on a runnable REC.
    fn activate_and_read_rim(self) -> [u8; 64] {
        self.ok("REALM_ACTIVATE", rmi::REALM_ACTIVATE, &[self.rd]);
        let rec = self
            .runnable_rec
            .expect("a runnable REC to read the RIM with");
        let answer: Rc<RefCell<Option<[u64; 9]>>> = Rc::default();
        let seen = answer.clone();
        let mut asked = false;
        self.rmm.set_guest(move |_, ctx: &mut RecContext| {
            if !asked {
                asked = true;
                ctx.gprs[0] = u64::from(rsi::MEASUREMENT_READ);
                ctx.gprs[1] = 0;
                return Trap {
                    kind: TrapKind::Sync,
                    esr: ESR_SMC,
                    far: 0,
                    hpfar: 0,
                    irq_pending: false,
                };
            }
            *seen.borrow_mut() = Some(ctx.gprs[..9].try_into().unwrap());
            Trap {
                kind: TrapKind::Irq,
                esr: 0,
                far: 0,
                hpfar: 0,
                irq_pending: false,
            }
        });
        let run = NS_POOL - PAGE;
        self.rmm.machine.poke(run, 0, &[0; PAGE as usize]);
        self.ok("REC_ENTER", rmi::REC_ENTER, &[rec, run]);
        let regs = answer.borrow().expect("the realm ran after its SMC");
        assert_eq!(regs[0], rsi::SUCCESS, "RSI_MEASUREMENT_READ");
        let mut rim = [0u8; 64];
        for (i, word) in regs[1..].iter().enumerate() {
            rim[8 * i..8 * i + 8].copy_from_slice(&word.to_le_bytes());
        }
        rim
    }
}

/// Builds the realm on the RMM with `algo` and returns its RIM.
fn rim_from_rmm(
    desc: &RealmDescription,
    algo: HashAlgo,
    dir: &Path,
    overrides: &[(&str, PathBuf)],
) -> [u8; 64] {
    let mut host = Host::create(&desc.params, algo);
    for op in &desc.operations {
        match op {
            Operation::InitRipas(r) => host.init_ripas(r),
            Operation::Data(d) => host.data(d, dir, overrides),
            Operation::Rec(r) => host.rec(r),
        }
    }
    host.activate_and_read_rim()
}

fn check(name: &str, desc: &RealmDescription, dir: &Path, overrides: &[(&str, PathBuf)]) {
    let map = overrides
        .iter()
        .map(|(n, p)| (n.to_string(), p.clone()))
        .collect();
    let predicted = if overrides.is_empty() {
        predict_rim(desc, dir).unwrap()
    } else {
        predict_rim_with_files(desc, dir, &map).unwrap()
    };
    for algo in HashAlgo::ALL {
        let measured = rim_from_rmm(desc, algo, dir, overrides);
        let len = algo.digest_len();
        assert_eq!(
            hex::encode(&measured[..len]),
            hex::encode(predicted.for_algo(algo)),
            "{name}: {algo} RIM of the RMM vs the prediction"
        );
        assert!(
            measured[len..].iter().all(|&b| b == 0),
            "{name}: zero padding"
        );
    }
}

fn scratch() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("rim-vs-rmm");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31) ^ seed ^ (i >> 8) as u8)
        .collect()
}

fn params(s2sz: u8, hash_algo: HashAlgo) -> RealmParams {
    RealmParams {
        flags: RealmFlags::default(),
        s2sz,
        sve_vl: 0,
        num_bps: 1,
        num_wps: 1,
        pmu_num_ctrs: 0,
        hash_algo,
        rpv: None,
    }
}

fn ripas(base: u64, top: u64, level: u8) -> Operation {
    Operation::InitRipas(InitRipas { base, top, level })
}

fn data(ipa: u64, file: Option<&str>, measure_content: bool) -> DataPages {
    DataPages {
        ipa,
        file: file.map(String::from),
        offset: 0,
        length: None,
        pages: None,
        measure_content,
    }
}

fn rec(pc: u64, gprs: &[u64], runnable: bool) -> Operation {
    Operation::Rec(RecCreate {
        pc,
        gprs: gprs.to_vec(),
        runnable,
        mpidr: None,
    })
}

#[test]
fn measured_image_and_one_rec() {
    let dir = scratch();
    std::fs::write(dir.join("image-a.bin"), pattern(0x3800, 0xa)).unwrap();
    let desc = RealmDescription {
        comment: None,
        params: params(39, HashAlgo::Sha256),
        operations: vec![
            ripas(0, 0x8000, 3),
            Operation::Data(data(0x1000, Some("image-a.bin"), true)),
            rec(0x1000, &[0x11, 0x22], true),
        ],
    };
    check("measured image", &desc, &dir, &[]);
}

#[test]
fn unmeasured_data_several_recs_and_level_2_ripas() {
    let dir = scratch();
    std::fs::write(dir.join("image-b.bin"), pattern(0x2000, 0xb)).unwrap();
    let mut p = params(39, HashAlgo::Sha512);
    p.num_bps = 5;
    p.num_wps = 3;
    p.rpv = Some([0x77; 64]);
    let desc = RealmDescription {
        comment: None,
        params: p,
        operations: vec![
            ripas(0x20_0000, 0x60_0000, 2),
            Operation::Data(data(0x1000, Some("image-b.bin"), false)),
            rec(0x1000, &[1, 2, 3, 4, 5, 6, 7, 8], true),
            rec(0x2000, &[9], false),
            rec(0x3000, &[u64::MAX, 0, u64::MAX], true),
            ripas(0x1_0000, 0x1_2000, 3),
        ],
    };
    check("unmeasured data", &desc, &dir, &[]);
}

#[test]
fn interleaved_commands_windows_zero_pages_and_level_1_ripas() {
    let dir = scratch();
    std::fs::write(dir.join("image-c.bin"), pattern(0x5000, 0xc)).unwrap();
    let window = DataPages {
        ipa: 0x10_0000,
        file: Some("image-c.bin".into()),
        offset: 0x1800,
        length: Some(0x1234),
        pages: Some(3),
        measure_content: true,
    };
    let zeros = DataPages {
        ipa: 0x20_0000,
        file: None,
        offset: 0,
        length: None,
        pages: Some(2),
        measure_content: true,
    };
    let desc = RealmDescription {
        comment: None,
        params: params(40, HashAlgo::Sha256),
        operations: vec![
            rec(0, &[], false),
            Operation::Data(window),
            ripas(0x4000_0000, 0x8000_0000, 1),
            rec(0x10_0000, &[0xdead_beef], true),
            ripas(0x10_4000, 0x10_6000, 3),
            Operation::Data(zeros),
            rec(0x20_0000, &[], true),
        ],
    };
    check("interleaved", &desc, &dir, &[]);
}

#[test]
fn the_nshost_guest_realm() {
    let dir = scratch();
    let image = dir.join("fake-guest.bin");
    std::fs::write(&image, pattern(0x2c10, 0x9)).unwrap();
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let desc = RealmDescription::from_json_file(&example.join("nshost-guest-realm.json")).unwrap();
    check(
        "nshost guest realm",
        &desc,
        &example,
        &[("guest.bin", image)],
    );
}
