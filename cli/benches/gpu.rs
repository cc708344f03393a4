//! CPU vs GPU encoder benchmark (criterion): a 16-token query and a batch of 256 catalog titles
//! (the first 256 of ../shared/data/beauty, one padded batch per 32 titles of similar length, as
//! `vitrine embed-catalog` batches them), on the q8_0 model; `VITRINE_BENCH_MODEL=e5` times the 12-layer
//! models/multilingual-e5-small-zh-en.gguf instead (texts as given, as the browser bench does).
//! `cargo bench -p vitrine-cli --bench gpu`. Without an adapter only the CPU half runs.
//!
//! On a software adapter (lavapipe, SwiftShader) the GPU figures are CPU figures in disguise; the
//! adapter is printed first. `VITRINE_BENCH_TITLES=n` benchmarks n titles instead of 256, for
//! adapters too slow to repeat the full batch.

use std::path::{Path, PathBuf};
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use vitrine::backend::select::Backend;
use vitrine::Encoder;

/// The browser bench's query (www/bench/): 16 tokens with [CLS] and [SEP].
const QUERY: &str = "gentle vitamin c face serum for dry sensitive skin and fine lines at night";
const BATCH: usize = 32;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The first `n` titles of the Amazon Beauty items (`item_id<TAB>asin<TAB>title`).
fn titles(n: usize) -> Vec<String> {
    let path = root().join("../shared/data/beauty/beauty_items.tsv");
    let tsv = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    tsv.lines()
        .skip(1)
        .filter_map(|l| l.split('\t').nth(2))
        .take(n)
        .map(String::from)
        .collect()
}

/// Batches of similar token length, as `vitrine embed-catalog` forms them.
fn batches<'a>(enc: &Encoder, titles: &'a [String]) -> Vec<Vec<&'a str>> {
    let mut order: Vec<(usize, &str)> = titles
        .iter()
        .map(|t| (enc.tokenize(t).map_or(0, |v| v.len()), t.as_str()))
        .collect();
    order.sort_unstable();
    order
        .chunks(BATCH)
        .map(|c| c.iter().map(|&(_, t)| t).collect())
        .collect()
}

fn bench(c: &mut Criterion) {
    let model = std::env::var("VITRINE_BENCH_MODEL").unwrap_or_else(|_| "q8_0".into());
    let file = match model.as_str() {
        "e5" => "models/multilingual-e5-small-zh-en.gguf".to_string(),
        v => format!("models/minilm-l6-{v}.gguf"),
    };
    let bytes = std::fs::read(root().join(&file)).unwrap_or_else(|e| panic!("{file}: {e}"));
    let enc = Encoder::from_gguf_bytes(&bytes).expect("model");
    let attached = pollster::block_on(enc.device().start_gpu());
    let mut backends = vec![Backend::Cpu];
    match attached.map(|()| enc.device().gpu_adapter()) {
        Ok(Some(adapter)) => {
            println!("GPU adapter: {adapter}");
            backends.push(Backend::Webgpu);
        }
        Ok(None) => println!("GPU half skipped: no adapter"),
        Err(e) => println!("GPU half skipped: {e}"),
    }
    let n = std::env::var("VITRINE_BENCH_TITLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256);
    let titles = titles(n);
    let batches = batches(&enc, &titles);
    let tokens: usize = titles
        .iter()
        .map(|t| enc.tokenize(t).map_or(0, |v| v.len()))
        .sum();
    // e5's tokenizer cuts the query differently from MiniLM's: say how many tokens it is there.
    println!(
        "query: {} tokens on {file}",
        enc.tokenize(QUERY).map_or(0, |v| v.len())
    );
    let mut g = c.benchmark_group(format!("cpu_vs_gpu/{model}"));
    for backend in backends {
        let run = |texts: &[&str]| pollster::block_on(enc.embed_on(texts, backend)).expect("embed");
        g.sample_size(20).measurement_time(Duration::from_secs(5));
        g.throughput(Throughput::Elements(16));
        g.bench_function(format!("{backend}/query_16_tokens"), |b| b.iter(|| run(&[QUERY])));
        g.sample_size(10).measurement_time(Duration::from_secs(10));
        g.throughput(Throughput::Elements(tokens as u64));
        g.bench_function(
            format!("{backend}/titles_{n}_batches_of_{BATCH}_{tokens}_tokens"),
            |b| b.iter(|| batches.iter().for_each(|batch| drop(run(batch)))),
        );
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
