//! Known answers computed outside this crate (a short script following the
//! spec's byte layouts), and the description's checks.

use super::*;

/// A fresh directory for a test's files.
fn scratch_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("rampart-verify-{}-{test}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
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

fn describe(params: RealmParams, operations: Vec<Operation>) -> RealmDescription {
    RealmDescription {
        comment: None,
        params,
        operations,
    }
}

fn ripas(base: u64, top: u64, level: u8) -> Operation {
    Operation::InitRipas(InitRipas { base, top, level })
}

fn data(ipa: u64, file: Option<&str>, pages: Option<u64>, measure_content: bool) -> Operation {
    Operation::Data(DataPages {
        ipa,
        file: file.map(String::from),
        offset: 0,
        length: None,
        pages,
        measure_content,
    })
}

fn rec(pc: u64, gprs: &[u64], runnable: bool) -> Operation {
    Operation::Rec(RecCreate {
        pc,
        gprs: gprs.to_vec(),
        runnable,
        mpidr: None,
    })
}

fn unhex(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

#[test]
fn rim_init_known_answers() {
    let p = params(40, HashAlgo::Sha256);
    assert_eq!(
        rim_init(HashAlgo::Sha256, &p)[..32],
        unhex("045cb3602843a6845cb710fbbfbb92f0c7d611afe0106ac2953e46950a70c42b")
    );
    assert_eq!(rim_init(HashAlgo::Sha256, &p)[32..], [0; 32]);
    assert_eq!(
        rim_init(HashAlgo::Sha512, &p)[..],
        unhex(
            "066e19aa2c3418dadc20ef31b5595907c612991952553e1e99731a677b5797c9\
             898dffb6e3963a20b8e1af6d136cd2fe6fe25f048577dc3d7e5bf3a79a4b1e81"
        )
    );
}

#[test]
fn every_measured_realm_parameter_counts_and_the_rpv_does_not() {
    let p = RealmParams {
        flags: RealmFlags {
            lpa2: true,
            sve: false,
            pmu: true,
        },
        s2sz: 39,
        sve_vl: 2,
        num_bps: 3,
        num_wps: 2,
        pmu_num_ctrs: 4,
        hash_algo: HashAlgo::Sha256,
        rpv: Some([0x5a; 64]),
    };
    assert_eq!(p.flags.bits(), 0b101);
    assert_eq!(
        rim_init(HashAlgo::Sha256, &p)[..32],
        unhex("52ff1ba2420a8cf85908d26e82442fccff49ddeb52798351cf8286b07de1a085")
    );
    let no_rpv = RealmParams {
        rpv: None,
        ..p.clone()
    };
    assert_eq!(
        rim_init(HashAlgo::Sha256, &no_rpv),
        rim_init(HashAlgo::Sha256, &p)
    );
    for changed in [
        RealmParams {
            sve_vl: 3,
            ..p.clone()
        },
        RealmParams {
            num_bps: 4,
            ..p.clone()
        },
        RealmParams {
            num_wps: 3,
            ..p.clone()
        },
        RealmParams {
            pmu_num_ctrs: 5,
            ..p.clone()
        },
        RealmParams {
            s2sz: 40,
            ..p.clone()
        },
        RealmParams {
            flags: RealmFlags::default(),
            ..p.clone()
        },
    ] {
        assert_ne!(
            rim_init(HashAlgo::Sha256, &changed),
            rim_init(HashAlgo::Sha256, &p)
        );
    }
}

#[test]
fn a_small_realm_known_answers_for_both_algorithms() {
    let dir = scratch_dir("small");
    std::fs::write(dir.join("abc.bin"), b"abc").unwrap();
    let mut p = params(39, HashAlgo::Sha512);
    p.flags = RealmFlags {
        lpa2: true,
        sve: false,
        pmu: true,
    };
    p.sve_vl = 2;
    p.num_bps = 3;
    p.num_wps = 2;
    p.pmu_num_ctrs = 4;
    let desc = describe(
        p,
        vec![
            ripas(0, 0x2000, 3),
            data(0x1000, Some("abc.bin"), None, true),
            data(0x2000, None, Some(1), false),
            rec(0x1000, &[1, 2, 3, 4, 5, 6, 7, 8], true),
            // Not runnable: not measured.
            rec(0x2000, &[9], false),
        ],
    );
    let rim = predict_rim(&desc, &dir).unwrap();
    assert_eq!(
        rim.sha256.to_vec(),
        unhex("9df0918c1339c6038ec02f3bae62331016f0fdff5b2e888718facd7094e8e98a")
    );
    assert_eq!(
        rim.sha512.to_vec(),
        unhex(
            "b6811d73069b7dbec94c985411817c70cb809a121231031200ce3045a2cc10b3\
             36f26310a2eb107cfeca6e5e7887fe40950471ce34269e4747b6979df29ebd18"
        )
    );
    assert_eq!(rim.realm_rim(), &rim.sha512[..]);
    // REALM_CREATE, two RIPAS entries, two DATA pages, one REC.
    assert_eq!(rim.steps.len(), 6);
    assert_eq!(rim.steps.last().unwrap().rim, rim.sha512.to_vec());
}

#[test]
fn init_ripas_measures_each_entry_of_its_level() {
    let desc = describe(
        params(39, HashAlgo::Sha256),
        vec![ripas(0x20_0000, 0x60_0000, 2)],
    );
    let rim = predict_rim(&desc, Path::new(".")).unwrap();
    assert_eq!(
        rim.sha256.to_vec(),
        unhex("3447364ddd87de3aae200b50beb1a6a3043fc082194150de6262082ad1c0d5c3")
    );
    assert_eq!(
        rim.sha512.to_vec(),
        unhex(
            "0cf6abd4728a010cc74676946b57a5df9a11c1f3ec68cc653253338b29ef6984\
             155283e8499929701a6c6476d82f126de89ad93ebc7ed665d82182f70971607e"
        )
    );
    // The same range in 4 KB entries is a different (longer) sequence.
    let fine = describe(
        params(39, HashAlgo::Sha256),
        vec![ripas(0x20_0000, 0x60_0000, 3)],
    );
    assert_ne!(
        predict_rim(&fine, Path::new(".")).unwrap().sha256,
        rim.sha256
    );
    assert_eq!(
        predict_rim(&fine, Path::new(".")).unwrap().steps.len(),
        1 + 0x40_0000 / 0x1000
    );
}

#[test]
fn order_matters_and_split_ranges_do_not() {
    let a = describe(
        params(39, HashAlgo::Sha256),
        vec![ripas(0, 0x4000, 3), rec(0x1000, &[], true)],
    );
    let b = describe(
        params(39, HashAlgo::Sha256),
        vec![rec(0x1000, &[], true), ripas(0, 0x4000, 3)],
    );
    let split = describe(
        params(39, HashAlgo::Sha256),
        vec![
            ripas(0, 0x1000, 3),
            ripas(0x1000, 0x4000, 3),
            rec(0x1000, &[], true),
        ],
    );
    let dir = Path::new(".");
    let (a, b, split) = (
        predict_rim(&a, dir).unwrap(),
        predict_rim(&b, dir).unwrap(),
        predict_rim(&split, dir).unwrap(),
    );
    assert_ne!(a.sha256, b.sha256);
    assert_eq!(a.sha256, split.sha256);
}

#[test]
fn data_pages_take_offset_and_length_and_zero_fill() {
    let dir = scratch_dir("pages");
    let mut content = vec![0u8; 0x2800];
    for (i, b) in content.iter_mut().enumerate() {
        *b = (i % 251) as u8;
    }
    std::fs::write(dir.join("image.bin"), &content).unwrap();
    // Pages 1..=2 of the file, with the tail zero: the same as a file of
    // exactly those bytes.
    std::fs::write(dir.join("tail.bin"), &content[0x1000..0x2800]).unwrap();
    let windowed = Operation::Data(DataPages {
        ipa: 0x8000,
        file: Some("image.bin".into()),
        offset: 0x1000,
        length: Some(0x1800),
        pages: Some(3),
        measure_content: true,
    });
    let whole_tail = Operation::Data(DataPages {
        ipa: 0x8000,
        file: Some("tail.bin".into()),
        offset: 0,
        length: None,
        pages: Some(3),
        measure_content: true,
    });
    let p = params(39, HashAlgo::Sha256);
    let a = predict_rim(&describe(p.clone(), vec![windowed]), &dir).unwrap();
    let b = predict_rim(&describe(p.clone(), vec![whole_tail]), &dir).unwrap();
    assert_eq!(a, b);
    assert_eq!(a.steps.len(), 4);

    // The file's page count is the default; overrides rename files.
    let default_pages = describe(p.clone(), vec![data(0, Some("image.bin"), None, true)]);
    assert_eq!(
        predict_rim(&default_pages, &dir).unwrap().steps.len(),
        1 + 3
    );
    let renamed = describe(p, vec![data(0, Some("guest.bin"), None, true)]);
    assert!(predict_rim(&renamed, &dir).is_err());
    let overrides = FileOverrides::from([("guest.bin".to_string(), dir.join("image.bin"))]);
    assert_eq!(
        predict_rim_with_files(&renamed, Path::new("/nonexistent"), &overrides).unwrap(),
        predict_rim(&default_pages, &dir).unwrap()
    );
}

#[test]
fn unmeasured_content_is_not_read_into_the_rim() {
    let dir = scratch_dir("unmeasured");
    std::fs::write(dir.join("one.bin"), [1u8; 0x1000]).unwrap();
    std::fs::write(dir.join("two.bin"), [2u8; 0x1000]).unwrap();
    let p = params(39, HashAlgo::Sha512);
    let rim = |file: &str, measure: bool| {
        predict_rim(
            &describe(p.clone(), vec![data(0, Some(file), None, measure)]),
            &dir,
        )
        .unwrap()
    };
    assert_eq!(rim("one.bin", false), rim("two.bin", false));
    assert_ne!(rim("one.bin", true), rim("two.bin", true));
    assert_ne!(rim("one.bin", true), rim("one.bin", false));
}

#[test]
fn descriptions_that_no_host_could_build_are_rejected() {
    let bad = [
        (ripas(0x1000, 0x1000, 3), "not below top"),
        (ripas(0x1000, 0x20_0000, 2), "not aligned"),
        (ripas(0, 0x1000, 4), "level 4"),
        (ripas(0, (1 << 38) + 0x1000, 3), "protected"),
        (data(0x1001, None, Some(1), false), "not 4 KB aligned"),
        (data(0, None, None, false), "needs \"pages\""),
        (data(0, None, Some(0), false), "must not be 0"),
        (data((1 << 38) - 0x1000, None, Some(2), false), "protected"),
        (rec(0, &[0; 9], true), "X0..X7"),
    ];
    for (op, want) in bad {
        let desc = describe(params(39, HashAlgo::Sha256), vec![op.clone()]);
        let err = format!("{:#}", predict_rim(&desc, Path::new(".")).unwrap_err());
        assert!(err.contains(want), "{op:?}: {err}");
    }
    let desc = describe(params(20, HashAlgo::Sha256), vec![]);
    assert!(format!("{:#}", predict_rim(&desc, Path::new(".")).unwrap_err()).contains("s2sz"));
}

#[test]
fn file_errors_say_what_is_wrong() {
    let dir = scratch_dir("file-errors");
    std::fs::write(dir.join("small.bin"), [7u8; 10]).unwrap();
    let with = |offset: u64, length: Option<u64>, pages: Option<u64>| {
        let op = Operation::Data(DataPages {
            ipa: 0,
            file: Some("small.bin".into()),
            offset,
            length,
            pages,
            measure_content: true,
        });
        format!(
            "{:#}",
            predict_rim(&describe(params(39, HashAlgo::Sha256), vec![op]), &dir).unwrap_err()
        )
    };
    assert!(with(11, None, None).contains("offset 0xb is past the end"));
    assert!(with(2, Some(9), None).contains("length 0x9 from offset 0x2"));
    assert!(with(10, None, None).contains("gives no bytes"));
    let missing = describe(
        params(39, HashAlgo::Sha256),
        vec![data(0, Some("missing.bin"), None, true)],
    );
    assert!(format!("{:#}", predict_rim(&missing, &dir).unwrap_err()).contains("missing.bin"));
}

#[test]
fn json_round_trips_and_rejects_typos() {
    let text = r#"{
        "params": {"s2sz": 40, "num_bps": 1, "num_wps": "1", "hash_algo": "sha-256",
                   "flags": {"pmu": true}, "rpv": "0x00"},
        "operations": []
    }"#;
    let err = RealmDescription::from_json_str(text).unwrap_err();
    assert!(format!("{err:#}").contains("expected 64 bytes"), "{err:#}");

    let text = r#"{
        "comment": "a realm",
        "params": {"s2sz": 40, "num_bps": 1, "num_wps": "1", "hash_algo": "sha-256",
                   "flags": {"pmu": true}},
        "operations": [
            {"init_ripas": {"base": "0x4000_0000", "top": "0x40040000"}},
            {"data": {"ipa": 1073741824, "pages": 2, "measure_content": false}},
            {"rec": {"pc": "0x40000000", "gprs": ["0x1", 2], "runnable": true, "mpidr": "0x0"}}
        ]
    }"#;
    let desc = RealmDescription::from_json_str(text).unwrap();
    assert_eq!(desc.params.flags.bits(), 0b100);
    assert_eq!(
        desc.operations[0],
        ripas(0x4000_0000, 0x4004_0000, 3),
        "level defaults to 3"
    );
    let again = RealmDescription::from_json_str(&serde_json::to_string(&desc).unwrap()).unwrap();
    assert_eq!(again, desc);

    let typo = text.replace("\"runnable\"", "\"runable\"");
    let err = RealmDescription::from_json_str(&typo).unwrap_err();
    assert!(format!("{err:#}").contains("runable"), "{err:#}");
    let bad_algo = text.replace("sha-256", "sha-1");
    assert!(RealmDescription::from_json_str(&bad_algo).is_err());
}

#[test]
fn the_nshost_example_describes_the_guest_realm() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/nshost-guest-realm.json");
    let desc = RealmDescription::from_json_file(&path).unwrap();
    assert_eq!(desc.params.s2sz, 40);
    assert_eq!(desc.params.hash_algo, HashAlgo::Sha256);
    let dir = scratch_dir("nshost");
    std::fs::write(dir.join("fake-guest.bin"), [0x11u8; 0x2345]).unwrap();
    let overrides = FileOverrides::from([("guest.bin".to_string(), dir.join("fake-guest.bin"))]);
    let rim = predict_rim_with_files(&desc, path.parent().unwrap(), &overrides).unwrap();
    // REALM_CREATE, 64 + 1 RIPAS entries, 3 image pages, REC 0.
    assert_eq!(rim.steps.len(), 1 + 65 + 3 + 1);
}
