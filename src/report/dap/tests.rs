//! The client's bytes read back by independent code: janus_messages decodes the report, the HPKE crate
//! opens each share with the aggregator's private key and the AAD DAP-09 defines, prio decodes it.

use hpke::aead::AesGcm128;
use hpke::kdf::HkdfSha256;
use hpke::kem::X25519HkdfSha256;
use hpke::{Deserializable, Kem as _, OpModeR, Serializable};
use janus_messages::codec::{Decode, Encode, ParameterizedDecode};
use janus_messages::{
    HpkeAeadId, HpkeConfig, HpkeConfigId, HpkeConfigList, HpkeKdfId, HpkeKemId, HpkePublicKey, InputShareAad,
    PlaintextInputShare, Report,
};
use prio::vdaf::prio3::{Prio3Histogram, Prio3InputShare};

use super::*;
use crate::report::Outcome;

type Sk = <X25519HkdfSha256 as hpke::Kem>::PrivateKey;

fn keys(id: u8) -> (Sk, Vec<u8>) {
    let (sk, pk) = X25519HkdfSha256::gen_keypair(&mut rand::rng());
    let cfg = HpkeConfig::new(
        HpkeConfigId::from(id),
        HpkeKemId::X25519HkdfSha256,
        HpkeKdfId::HkdfSha256,
        HpkeAeadId::Aes128Gcm,
        HpkePublicKey::from(pk.to_bytes().to_vec()),
    );
    (sk, HpkeConfigList::new(vec![cfg]).get_encoded().unwrap())
}

fn config() -> DapConfig {
    DapConfig::from_json(
        r#"{"leader": "http://127.0.0.1:9001", "helper": "http://127.0.0.1:9002/",
            "tasks": [{"experiment": "hero", "task_id": "G9YKXjoEjfoU7M_fi_o2H0wmzavRb2sBFHeykeRhDMk",
                       "variants": ["A", "B"], "vdaf": {"type": "histogram", "length": 14, "chunk_length": 4},
                       "time_precision": 60, "min_batch_size": 100}]}"#,
    )
    .unwrap()
}

fn open(sk: &Sk, ct: &janus_messages::HpkeCiphertext, info: &[u8], aad: &[u8]) -> Vec<u8> {
    let enc = <X25519HkdfSha256 as hpke::Kem>::EncappedKey::from_bytes(ct.encapsulated_key()).unwrap();
    hpke::single_shot_open::<AesGcm128, HkdfSha256, X25519HkdfSha256>(
        &OpModeR::Base,
        sk,
        &enc,
        info,
        ct.payload(),
        aad,
    )
    .unwrap()
}

#[test]
fn the_upload_is_a_dap09_report_each_aggregator_can_open() {
    let mut c = DapClient::new(&config(), "hero").unwrap();
    let reqs = c.hpke_config_requests(1_000);
    assert_eq!(reqs.len(), 2);
    assert_eq!(
        reqs[0].url,
        "http://127.0.0.1:9001/hpke_config?task_id=G9YKXjoEjfoU7M_fi_o2H0wmzavRb2sBFHeykeRhDMk"
    );
    assert!(
        c.build(&one_hot(14, 0).unwrap(), 1_000).is_err(),
        "no configs yet"
    );
    let ((lsk, l), (hsk, h)) = (keys(4), keys(5));
    c.set_hpke_configs(&l, &h, 1_000).unwrap();
    assert!(
        c.hpke_config_requests(1_000 + HPKE_CONFIG_TTL_SECS - 1)
            .is_empty(),
        "cached"
    );
    assert_eq!(
        c.hpke_config_requests(1_000 + HPKE_CONFIG_TTL_SECS).len(),
        2,
        "expired"
    );

    let cell = cell_index(1, Outcome::Clicked);
    assert_eq!(cell, 8);
    let req = c.build(&one_hot(14, cell).unwrap(), 1_000_079).unwrap();
    assert_eq!(req.content_type, "application/dap-report");
    assert_eq!(
        req.url,
        "http://127.0.0.1:9001/tasks/G9YKXjoEjfoU7M_fi_o2H0wmzavRb2sBFHeykeRhDMk/reports"
    );
    let report = Report::get_decoded(&req.body).unwrap();
    assert_eq!(
        report.metadata().time().as_seconds_since_epoch(),
        1_000_020,
        "rounded down to 60 s"
    );
    assert_eq!(u8::from(*report.leader_encrypted_input_share().config_id()), 4);
    assert_eq!(u8::from(*report.helper_encrypted_input_share().config_id()), 5);

    let task_id = "G9YKXjoEjfoU7M_fi_o2H0wmzavRb2sBFHeykeRhDMk".parse().unwrap();
    let aad = InputShareAad::new(task_id, report.metadata().clone(), report.public_share().to_vec())
        .get_encoded()
        .unwrap();
    let info = |r: u8| [b"dap-09 input share".as_slice(), &[1, r]].concat();
    let vdaf = Prio3Histogram::new_histogram(2, 14, 4).unwrap();
    for (i, (sk, ct, role)) in [
        (&lsk, report.leader_encrypted_input_share(), 2u8),
        (&hsk, report.helper_encrypted_input_share(), 3u8),
    ]
    .into_iter()
    .enumerate()
    {
        let plain = PlaintextInputShare::get_decoded(&open(sk, ct, &info(role), &aad)).unwrap();
        assert!(plain.extensions().is_empty());
        Prio3InputShare::get_decoded_with_param(&(&vdaf, i), plain.payload()).expect("a Prio3 input share");
    }
}

#[test]
fn measurements_must_fit_the_task() {
    let mut c = DapClient::new(&config(), "hero").unwrap();
    let ((_, l), (_, h)) = (keys(1), keys(2));
    c.set_hpke_configs(&l, &h, 0).unwrap();
    let mut two = vec![0; 14];
    two[0] = 1;
    two[3] = 1;
    assert!(c.build(&two, 0).is_err(), "a histogram is one-hot");
    assert!(c.build(&[1, 0], 0).is_err(), "14 cells");
    assert!(one_hot(14, 14).is_err());
    assert!(DapClient::new(&config(), "other").is_err());
    let bad = config().tasks[0].clone();
    assert!(
        DapTask {
            variants: vec!["A".into()],
            ..bad
        }
        .check()
        .is_err(),
        "length is variants × 7"
    );
}

#[test]
fn sumvec_noise_is_calibrated_to_the_whole_vector() {
    // prio 0.16: histogram sensitivity 2; SumVec length · (2^bits − 1).
    assert_eq!(VdafSpec::histogram(14).sensitivity(), 2.0);
    assert_eq!(VdafSpec::sum_vec(1, 14).sensitivity(), 14.0);
    assert_eq!(
        VdafSpec::sum_vec(1, 14),
        VdafSpec::SumVec {
            bits: 1,
            length: 14,
            chunk_length: 4
        }
    );
    // Discrete Laplace of scale 2 (ε = 1): variance 2e^{-1/2}/(1 − e^{-1/2})² ≈ 7.84.
    let v = noise_variance(&VdafSpec::histogram(14), 1.0);
    assert!((v - 7.8353).abs() < 1e-3, "{v}");
}

#[test]
fn segments_need_a_noised_histogram_and_reports_within_4_kb() {
    let ((_, l), (_, h)) = (keys(1), keys(2));
    let task = |variants: usize, segments: u8| DapTask {
        variants: (0..variants).map(|i| format!("v{i}")).collect(),
        vdaf: VdafSpec::histogram(crate::report::dap_cells(variants, segments)),
        segments,
        noise_epsilon: Some(1.0),
        ..config().tasks[0].clone()
    };
    // The computed size is the size of a real sealed report, and the sizes the browser benchmark
    // measured (BENCHMARKS.md, "DAP client": 838 B for 2 variants, 2,886 and 3,846 B for 2 and 3 × 8).
    for (variants, segments, want) in [(2, 0, 838), (2, 8, 2_886), (3, 8, 3_846)] {
        let t = task(variants, segments);
        t.check().unwrap();
        let mut cfg = config();
        cfg.tasks = vec![t.clone()];
        let mut c = DapClient::new(&cfg, "hero").unwrap();
        c.set_hpke_configs(&l, &h, 0).unwrap();
        let length = t.vdaf.length();
        let built = c
            .build(&one_hot(length, length - 1).unwrap(), 1_000)
            .unwrap()
            .body
            .len();
        assert_eq!(
            (report_bytes(&t.vdaf).unwrap(), built),
            (want, want),
            "{variants} × {segments}"
        );
    }
    // 4 variants × 8 segments: 224 cells, 4,806 B.
    let err = task(4, 8).check().unwrap_err().to_string();
    assert!(err.contains("4806 B, over 4096 B"), "{err}");
    assert!(task(2, 9).check().is_err(), "at most 8 segments");
    let exact = DapTask {
        noise_epsilon: None,
        ..task(2, 8)
    };
    assert!(exact.check().unwrap_err().to_string().contains("central noise"));
    let sumvec = DapTask {
        vdaf: VdafSpec::sum_vec(1, 112),
        ..task(2, 8)
    };
    assert!(sumvec.check().unwrap_err().to_string().contains("histogram"));
    // Without segments the size limit does not apply: a task valid before segments existed stays valid.
    let wide = DapTask {
        vdaf: VdafSpec::sum_vec(8, 56),
        ..task(8, 0)
    };
    assert!(report_bytes(&wide.vdaf).unwrap() > 4096);
    wide.check().unwrap();
    let mismatched = DapTask {
        segments: 4,
        ..task(2, 8)
    };
    assert!(
        mismatched.check().is_err(),
        "the length must be variants × segments × 7"
    );
}
