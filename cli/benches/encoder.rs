//! Native encoder benchmark (criterion, one thread): model load, a 16-token query, and 64 catalog
//! titles one call each and all in one call (throughput in tokens/s), for the q8_0 and small models.
//! `cargo bench -p vitrine-cli --bench encoder`; scripts/bench.sh runs it after the browser half.

use std::path::{Path, PathBuf};
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use vitrine::Encoder;

/// The browser bench's query (www/bench/): 16 tokens with [CLS] and [SEP].
const QUERY: &str = "gentle vitamin c face serum for dry sensitive skin and fine lines at night";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The browser bench's 64 titles, so native and browser figures describe the same work.
fn titles() -> Vec<String> {
    let json = std::fs::read_to_string(root().join("www/bench/titles.json")).expect("www/bench/titles.json");
    let v: serde_json::Value = serde_json::from_str(&json).expect("titles.json is JSON");
    serde_json::from_value(v["titles"].clone()).expect("titles.json has a `titles` array of strings")
}

fn bench(c: &mut Criterion) {
    let titles = titles();
    for variant in ["q8_0", "small"] {
        let path = root().join(format!("models/minilm-l6-{variant}.gguf"));
        let Ok(bytes) = std::fs::read(&path) else {
            println!("skipped {variant}: {} is missing", path.display());
            continue;
        };
        let mut g = c.benchmark_group(format!("encoder/{variant}"));
        g.sample_size(10).measurement_time(Duration::from_secs(8));
        g.bench_function("load", |b| {
            b.iter(|| Encoder::from_gguf_bytes(&bytes).expect("model"))
        });

        let enc = Encoder::from_gguf_bytes(&bytes).expect("model");
        assert_eq!(enc.tokenize(QUERY).expect("tokenize").len(), 16);
        g.sample_size(50).measurement_time(Duration::from_secs(5));
        g.throughput(Throughput::Elements(16));
        g.bench_function("query_16_tokens", |b| {
            b.iter(|| enc.embed(&[QUERY]).expect("embed"))
        });

        let tokens: usize = titles
            .iter()
            .map(|t| enc.tokenize(t).map_or(0, |v| v.len()))
            .sum();
        g.sample_size(10).measurement_time(Duration::from_secs(10));
        g.throughput(Throughput::Elements(tokens as u64));
        g.bench_function(format!("titles_64_one_call_each_{tokens}_tokens"), |b| {
            b.iter(|| {
                for t in &titles {
                    enc.embed(&[t.as_str()]).expect("embed");
                }
            })
        });
        // One call with all 64: `embed` groups them by length instead of padding all to the longest.
        let refs: Vec<&str> = titles.iter().map(String::as_str).collect();
        g.bench_function(format!("titles_64_one_call_{tokens}_tokens"), |b| {
            b.iter(|| enc.embed(&refs).expect("embed"))
        });
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
