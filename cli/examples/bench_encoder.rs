//! Native encoder timings (not a test): a 16-token query, and 64 catalog titles one call each and as one
//! padded batch. `RAYON_NUM_THREADS=1 cargo run --release -p vitrine-cli --example bench_encoder [model]`.

use std::time::Instant;

use vitrine::Encoder;

fn main() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let model = std::env::args()
        .nth(1)
        .unwrap_or_else(|| root.join("models/minilm-l6-q8_0.gguf").display().to_string());
    let t = Instant::now();
    let enc = Encoder::from_gguf_bytes(&std::fs::read(&model).expect("model file")).expect("model");
    println!("{model}: load {:.1} ms", t.elapsed().as_secs_f64() * 1e3);

    let query = "long lasting matte liquid lipstick in deep red for dry lips";
    println!("query tokens: {}", enc.tokenize(query).expect("tokenize").len());
    for _ in 0..10 {
        enc.embed(&[query]).expect("embed");
    }
    let runs = 50;
    let t = Instant::now();
    for _ in 0..runs {
        enc.embed(&[query]).expect("embed");
    }
    println!(
        "query: {:.2} ms per call",
        t.elapsed().as_secs_f64() * 1e3 / runs as f64
    );

    let items = std::fs::read_to_string(root.join("../shared/data/beauty/beauty_items.tsv")).expect("items");
    let titles: Vec<&str> = items
        .lines()
        .skip(1)
        .take(64)
        .filter_map(|l| l.split('\t').nth(2))
        .collect();
    let tokens: usize = titles
        .iter()
        .map(|t| enc.tokenize(t).map(|v| v.len()).unwrap_or(0))
        .sum();
    let t = Instant::now();
    for title in &titles {
        enc.embed(&[title]).expect("embed");
    }
    let one = t.elapsed().as_secs_f64();
    let t = Instant::now();
    enc.embed(&titles).expect("embed");
    let batch = t.elapsed().as_secs_f64();
    println!(
        "64 titles ({tokens} tokens): one call each {:.0} ms ({:.0} tokens/s), one padded batch {:.0} ms",
        one * 1e3,
        tokens as f64 / one,
        batch * 1e3
    );
}
