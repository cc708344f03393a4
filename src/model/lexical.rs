//! Word overlap between product titles (TF-IDF cosine): the session model's third score term.
//!
//! A sentence encoder blurs exactly what repeat shoppers follow, the brand and the product line ("OPI",
//! "Shatter"): on Beauty, ranking by the TF-IDF cosine to the newest item's title alone reaches
//! NDCG@10 .044, where the MiniLM cosine to the same item reaches .036. Words are lower-cased runs of
//! letters and digits, or character pairs in scripts without spaces ([`words`]), counted once per title;
//! a word's weight is its inverse document frequency over the catalog being ranked,
//! `ln((N + 1) / (1 + df))`, so words every product shares ("oz") weigh nothing.

use rustc_hash::{FxHashMap, FxHashSet};

/// The distinct words of a text, in first-seen order: lower-cased runs of letters and digits, except
/// that scripts written without spaces (Chinese, Japanese kana) give one word per pair of neighbouring
/// characters instead (a lone character is a word by itself): "无线蓝牙耳机" shares "蓝牙" and "耳机" with
/// "蓝牙耳机", as "wireless bluetooth earphones" shares words with "bluetooth earphones".
pub fn words(text: &str) -> Vec<String> {
    let mut seen = FxHashSet::default();
    let mut out = Vec::new();
    let mut push = |w: String| {
        if seen.insert(w.clone()) {
            out.push(w);
        }
    };
    for run in text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        let chars: Vec<char> = run.chars().collect();
        let mut start = 0;
        while start < chars.len() {
            let unspaced = is_unspaced(chars[start]);
            let end = chars[start..]
                .iter()
                .position(|&c| is_unspaced(c) != unspaced)
                .map_or(chars.len(), |n| start + n);
            let part = &chars[start..end];
            if !unspaced {
                push(part.iter().collect::<String>().to_lowercase());
            } else if part.len() == 1 {
                push(part[0].to_string());
            } else {
                part.windows(2).for_each(|p| push(p.iter().collect()));
            }
            start = end;
        }
    }
    out
}

/// Characters of scripts written without spaces between words: CJK ideographs (with their extensions
/// and compatibility forms), hiragana and katakana. Hangul is written with spaces and stays in runs.
fn is_unspaced(c: char) -> bool {
    matches!(c as u32,
        0x3040..=0x30FF        // hiragana, katakana
        | 0x31F0..=0x31FF      // katakana phonetic extensions
        | 0x3400..=0x4DBF      // CJK extension A
        | 0x4E00..=0x9FFF      // CJK unified ideographs
        | 0xF900..=0xFAFF      // CJK compatibility ideographs
        | 0xFF66..=0xFF9F      // half-width katakana
        | 0x20000..=0x3134F) // CJK extensions B..G
}

/// A title as a unit-length TF-IDF vector over a [`Lexicon`]'s words, sorted by word id.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WordVector(Vec<(u32, f32)>);

impl WordVector {
    /// The cosine of two titles' vectors (both are unit length).
    pub fn dot(&self, other: &WordVector) -> f32 {
        let (a, b) = (&self.0, &other.0);
        let (mut i, mut j, mut sum) = (0, 0, 0.0);
        while i < a.len() && j < b.len() {
            match a[i].0.cmp(&b[j].0) {
                std::cmp::Ordering::Less => i += 1,
                std::cmp::Ordering::Greater => j += 1,
                std::cmp::Ordering::Equal => {
                    sum += a[i].1 * b[j].1;
                    i += 1;
                    j += 1;
                }
            }
        }
        sum
    }

    /// `(word id, weight)` pairs, sorted by id.
    pub fn entries(&self) -> &[(u32, f32)] {
        &self.0
    }

    /// `self + k · other`: a session's word profile is its steps' vectors weighted by recency.
    pub fn add_scaled(&mut self, other: &WordVector, k: f32) {
        let mut merged = Vec::with_capacity(self.0.len() + other.0.len());
        let (a, b) = (&self.0, &other.0);
        let (mut i, mut j) = (0, 0);
        while i < a.len() || j < b.len() {
            if j == b.len() || (i < a.len() && a[i].0 < b[j].0) {
                merged.push(a[i]);
                i += 1;
            } else if i == a.len() || b[j].0 < a[i].0 {
                merged.push((b[j].0, k * b[j].1));
                j += 1;
            } else {
                merged.push((a[i].0, a[i].1 + k * b[j].1));
                i += 1;
                j += 1;
            }
        }
        self.0 = merged;
    }
}

/// Document frequencies over one catalog's titles.
#[derive(Debug, Clone, Default)]
pub struct Lexicon {
    ids: FxHashMap<String, u32>,
    /// Titles each word occurs in, by word id.
    df: Vec<u32>,
    titles: u32,
}

impl Lexicon {
    /// Counts every title's distinct words.
    pub fn new<'a>(titles: impl IntoIterator<Item = &'a str>) -> Self {
        let mut lex = Lexicon::default();
        for t in titles {
            lex.titles += 1;
            for w in words(t) {
                let next = lex.df.len() as u32;
                let id = *lex.ids.entry(w).or_insert(next);
                if id == next {
                    lex.df.push(0);
                }
                lex.df[id as usize] += 1;
            }
        }
        lex
    }

    /// Distinct words counted; word ids are below it.
    pub fn vocabulary(&self) -> usize {
        self.df.len()
    }

    /// Titles counted.
    pub fn len(&self) -> usize {
        self.titles as usize
    }

    /// Whether no title was counted.
    pub fn is_empty(&self) -> bool {
        self.titles == 0
    }

    fn idf(&self, df: u32) -> f32 {
        ((self.titles as f32 + 1.0) / (1.0 + df as f32)).ln()
    }

    /// `text` as a unit-length TF-IDF vector. Words the catalog lacks weigh as a word of no title
    /// (df 0) and count in the length, but no catalog title can match them, so they are left out of
    /// the entries.
    pub fn vector(&self, text: &str) -> WordVector {
        let mut norm = 0.0f32;
        let mut v: Vec<(u32, f32)> = Vec::new();
        for w in words(text) {
            let id = self.ids.get(&w).copied();
            let weight = self.idf(id.map_or(0, |i| self.df[i as usize]));
            norm += weight * weight;
            if let Some(id) = id {
                v.push((id, weight));
            }
        }
        let norm = norm.sqrt();
        if norm == 0.0 || !norm.is_finite() {
            return WordVector::default();
        }
        v.iter_mut().for_each(|(_, w)| *w /= norm);
        v.sort_unstable_by_key(|(id, _)| *id);
        v.retain(|(_, w)| *w != 0.0);
        WordVector(v)
    }

    /// The words `a` and `b` share that some catalog title has, heaviest first (ties in `b`'s order):
    /// what explanations show for a word match.
    pub fn shared(&self, a: &str, b: &str) -> Vec<String> {
        let wa = words(a);
        let mut out: Vec<(f32, String)> = words(b)
            .into_iter()
            .filter(|w| wa.contains(w))
            .filter_map(|w| Some((self.idf(self.df[*self.ids.get(&w)? as usize]), w)))
            .filter(|(idf, _)| *idf > 0.0)
            .collect();
        out.sort_by(|x, y| y.0.total_cmp(&x.0));
        out.into_iter().map(|(_, w)| w).collect()
    }

    /// A session's word profile: `Σ decay^age · vector(text)` over the texts (oldest first; the newest
    /// has age 0), so its dot product with a title's vector is the recency-weighted sum of cosines.
    pub fn session<'a>(&self, texts: impl DoubleEndedIterator<Item = &'a str>, decay: f32) -> WordVector {
        let mut profile = WordVector::default();
        let mut k = 1.0;
        for t in texts.rev() {
            if k == 0.0 {
                break;
            }
            profile.add_scaled(&self.vector(t), k);
            k *= decay;
        }
        profile
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CATALOG: [&str; 4] = [
        "OPI Nail Lacquer, Simmer and Shimmer, 0.5 oz",
        "OPI Red Shatter Crackle Nail Polish",
        "Shea butter hand cream, 2 oz",
        "Argan oil shampoo 8 oz",
    ];

    #[test]
    fn words_are_distinct_lowercase_alphanumeric_runs() {
        assert_eq!(
            words("OPI Nail-Lacquer, opi 0.5oz Crème"),
            ["opi", "nail", "lacquer", "0", "5oz", "crème"]
        );
        assert!(words(" ,;- ").is_empty());
    }

    #[test]
    fn unspaced_scripts_split_into_character_pairs() {
        assert_eq!(words("无线蓝牙耳机"), ["无线", "线蓝", "蓝牙", "牙耳", "耳机"]);
        // Latin runs inside a Chinese title stay words; a lone ideograph is a word.
        assert_eq!(
            words("Apple苹果iPhone 15手机壳 (黑)"),
            ["apple", "苹果", "iphone", "15", "手机", "机壳", "黑"]
        );
        assert_eq!(
            words("ワイヤレスイヤホン"),
            ["ワイ", "イヤ", "ヤレ", "レス", "スイ", "ヤホ", "ホン"]
        );
        // Hangul is written with spaces: its runs are words.
        assert_eq!(words("무선 이어폰"), ["무선", "이어폰"]);
        assert_eq!(words("蓝牙蓝牙"), ["蓝牙", "牙蓝"]);
    }

    #[test]
    fn chinese_titles_match_on_shared_character_pairs() {
        let catalog = ["无线蓝牙耳机", "蓝牙耳机 黑色", "机械键盘", "无线鼠标"];
        let lex = Lexicon::new(catalog);
        let idf = |df: f32| (5.0f32 / (1.0 + df)).ln();
        // Pairs (df): 无线 2, 线蓝 1, 蓝牙 2, 牙耳 2, 耳机 2 | 蓝牙, 牙耳, 耳机, 黑色 1 | 机械 1, 械键 1,
        // 键盘 1 | 无线, 线鼠 1, 鼠标 1.
        let a = [idf(2.0), idf(1.0), idf(2.0), idf(2.0), idf(2.0)];
        let b = [idf(2.0), idf(2.0), idf(2.0), idf(1.0)];
        let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
        let want = 3.0 * idf(2.0).powi(2) / (norm(&a) * norm(&b));
        let got = lex.vector(catalog[0]).dot(&lex.vector(catalog[1]));
        assert!((got - want).abs() < 1e-6, "{got} vs {want}");
        assert_eq!(lex.vector(catalog[0]).dot(&lex.vector(catalog[2])), 0.0);
        let c = [idf(2.0), idf(1.0), idf(1.0)];
        let want = idf(2.0).powi(2) / (norm(&a) * norm(&c));
        let got = lex.vector(catalog[0]).dot(&lex.vector(catalog[3]));
        assert!((got - want).abs() < 1e-6, "{got} vs {want}");
    }

    #[test]
    fn cosine_matches_a_direct_computation() {
        let lex = Lexicon::new(CATALOG);
        let n = 4.0f32;
        let idf = |df: f32| ((n + 1.0) / (1.0 + df)).ln();
        // Shared by titles 0 and 1: "opi" (df 2) and "nail" (df 2). "oz" is in 3 of 4 titles.
        let t0 = [
            idf(2.0),
            idf(2.0),
            idf(1.0),
            idf(1.0),
            idf(1.0),
            idf(1.0),
            idf(1.0),
            idf(1.0),
            idf(3.0),
        ];
        let t1 = [idf(2.0), idf(1.0), idf(1.0), idf(1.0), idf(2.0), idf(1.0)];
        let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
        let want = (idf(2.0) * idf(2.0) * 2.0) / (norm(&t0) * norm(&t1));
        let got = lex.vector(CATALOG[0]).dot(&lex.vector(CATALOG[1]));
        assert!((got - want).abs() < 1e-6, "{got} vs {want}");
        let same = lex.vector(CATALOG[2]).dot(&lex.vector(CATALOG[2]));
        assert!((same - 1.0).abs() < 1e-6);
        let (a, b) = (lex.vector(CATALOG[2]), lex.vector(CATALOG[0]));
        assert_eq!(a.dot(&b), b.dot(&a));
    }

    #[test]
    fn unknown_words_lengthen_the_vector_but_match_nothing() {
        let lex = Lexicon::new(CATALOG);
        let known = lex.vector("shatter");
        let mixed = lex.vector("shatter zzzunknown");
        assert_eq!(mixed.entries().len(), 1);
        assert!(mixed.entries()[0].1 < known.entries()[0].1);
        assert_eq!(lex.vector("zzz qqq"), WordVector::default());
        assert_eq!(Lexicon::new([]).vector("anything"), WordVector::default());
    }

    #[test]
    fn shared_words_come_rarest_first_and_skip_words_of_every_title() {
        let lex = Lexicon::new(CATALOG);
        // "nail" and "opi" are in 2 titles, "shatter" in 1; "zzz" in none.
        assert_eq!(
            lex.shared("OPI Shatter Nail zzz", "nail polish opi shatter zzz"),
            ["shatter", "nail", "opi"]
        );
        // "a" is in both of two titles: idf ln(3 / 3) = 0, it explains nothing.
        assert!(Lexicon::new(["a b", "a c"]).shared("a b", "a c").is_empty());
        assert!(lex.shared("argan oil", "shea butter").is_empty());
    }

    #[test]
    fn a_session_profile_is_the_recency_weighted_sum_of_cosines() {
        let lex = Lexicon::new(CATALOG);
        let history = [CATALOG[2], CATALOG[3], CATALOG[0]];
        let profile = lex.session(history.iter().copied(), 0.5);
        for t in CATALOG {
            let v = lex.vector(t);
            let want: f32 = history
                .iter()
                .rev()
                .enumerate()
                .map(|(age, h)| 0.5f32.powi(age as i32) * lex.vector(h).dot(&v))
                .sum();
            assert!((profile.dot(&v) - want).abs() < 1e-6, "{t}");
        }
        // Decay 0: the newest text alone.
        let newest = lex.session(history.iter().copied(), 0.0);
        assert_eq!(newest, lex.vector(CATALOG[0]));
    }
}
