//! The `vitrine embed` and `vitrine embed-catalog` commands end to end, against the library.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::{cosine, model_bytes, repo};
use vitrine::{Catalog, Encoder};

fn model_path() -> std::path::PathBuf {
    repo().join("models/minilm-l6-q8_0.gguf")
}

#[test]
fn embed_writes_one_unit_vector_per_line_in_order() {
    let lines = ["red lipstick", "", "crème solaire 🧴", "a"];
    let (got, _) = embed(&["--batch", "3"], &lines);
    let enc = Encoder::from_gguf_bytes(&model_bytes("q8_0")).unwrap();
    assert_eq!(got.len(), lines.len());
    for (text, v) in lines.iter().zip(&got) {
        let c = cosine(v, &enc.embed(&[text]).unwrap()[0]);
        assert!(c > 0.99999, "{text:?}: {c}");
    }
}

#[test]
fn embed_catalog_writes_a_file_the_sdk_loads() {
    let dir = std::env::temp_dir().join(format!("vitrine-cat-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let input = dir.join("items.jsonl");
    std::fs::write(
        &input,
        "{\"id\": 7, \"title\": \"OPI nail lacquer\"}\n{\"id\": \"b\", \"text\": \"shampooing doux\"}\n",
    )
    .unwrap();
    let out = dir.join("items.vcat");
    let status = Command::new(env!("CARGO_BIN_EXE_vitrine"))
        .args(["embed-catalog", "--model"])
        .arg(model_path())
        .arg("--input")
        .arg(&input)
        .arg("--out")
        .arg(&out)
        .status()
        .unwrap();
    assert!(status.success());
    let catalog = Catalog::from_bytes(&std::fs::read(&out).unwrap()).unwrap();
    std::fs::remove_dir_all(&dir).ok();
    let enc = Encoder::from_gguf_bytes(&model_bytes("q8_0")).unwrap();
    assert_eq!(catalog.ids(), ["7", "b"]);
    assert_eq!(catalog.dims(), 384);
    assert_eq!(catalog.model_checksum(), enc.checksum());
    let want = &enc.embed(&["shampooing doux"]).unwrap()[0];
    assert!(cosine(catalog.get("b").unwrap(), want) > 0.9999);
}

/// Runs `vitrine embed <args> --model <q8_0>` on `lines`; returns the vectors and stderr.
fn embed(args: &[&str], lines: &[&str]) -> (Vec<Vec<f32>>, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_vitrine"))
        .arg("embed")
        .args(args)
        .arg("--model")
        .arg(model_path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(lines.join("\n").as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "{stderr}");
    let vectors = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (vectors, stderr)
}

#[test]
fn embed_on_the_gpu_matches_the_cpu_and_says_which_ran() {
    let lines = [
        "red lipstick",
        "",
        "WHITE HANGING HEART T-LIGHT HOLDER",
        "crème solaire 🧴 indice 50 pour peau sensible",
        "a",
        "OPI Nail Lacquer, Simmer and Shimmer, 0.5-Fluid Ounce",
    ];
    let (cpu, cpu_log) = embed(&["--batch", "4", "--device", "cpu"], &lines);
    assert!(
        cpu_log.contains("backend: cpu (the CPU was requested"),
        "{cpu_log}"
    );
    let (gpu, gpu_log) = embed(&["--batch", "4", "--device", "gpu"], &lines);
    // Without an adapter the CLI falls back (and says so); the test fails then, unless told that
    // this machine has no GPU driver (see tests/support/gpu.rs in the core).
    if !gpu_log.contains("backend: webgpu") {
        assert!(
            std::env::var_os("VITRINE_NO_GPU_TESTS").is_some_and(|v| v == "1"),
            "no GPU ran: install mesa-vulkan-drivers (scripts/setup.sh) or set VITRINE_NO_GPU_TESTS=1\n{gpu_log}"
        );
    }
    assert_eq!(gpu.len(), lines.len());
    for ((text, g), c) in lines.iter().zip(&gpu).zip(&cpu) {
        let cos = cosine(g, c);
        assert!(cos >= 0.9999, "{text:?}: cos {cos}");
    }
    let (auto, auto_log) = embed(&["--device", "auto"], &lines[..2]);
    assert!(auto_log.contains("backend: "), "{auto_log}");
    assert!(cosine(&auto[0], &cpu[0]) >= 0.9999);
}
