//! `vitrine data onlineretail`: turns the UCI Online Retail transactions (`InvoiceNo, StockCode,
//! Description, Quantity, InvoiceDate, UnitPrice, CustomerID, Country`) into the shared sequential format
//! (`sequential_data.txt`, `onlineretail_items.tsv`) plus `timestamps.txt`, so every `vitrine eval`
//! method and `vitrine train` read it as they read Beauty.
//!
//! Per customer: the distinct products they bought, in the order of their first purchase; customers
//! with at least 5 such products. Cancellations (invoices starting with "C"), returns and adjustments
//! (quantity or price ≤ 0), lines without a customer and service lines (postage, fees, manual entries)
//! are dropped. Lines of one invoice share a timestamp: their order is the file's line order, which says
//! nothing about what was chosen first, so [`Summary`] counts the last pairs inside one invoice.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use serde::Serialize;
use time::format_description::well_known::Iso8601;
use time::PrimitiveDateTime;

#[derive(Subcommand)]
pub enum DataCommand {
    /// UCI Online Retail transactions (CSV) → the shared sequential format.
    Onlineretail(OnlineRetailArgs),
}

#[derive(Args)]
pub struct OnlineRetailArgs {
    #[arg(long, default_value = "../shared/data/onlineretail/transactions.csv")]
    pub input: PathBuf,
    /// Directory to write (created; its name names the data set in `vitrine eval`).
    #[arg(long, default_value = ".cache/data/onlineretail")]
    pub out: PathBuf,
    /// Fewest distinct products a customer needs to be kept.
    #[arg(long, default_value_t = 5)]
    pub min_items: usize,
}

/// Stock codes of lines that are not products: postage, carriage, discounts, samples, manual entries,
/// bank and marketplace charges, a charity's commission, and the "pads to match all cushions" filler.
const SERVICE_CODES: [&str; 11] = [
    "POST",
    "DOT",
    "C2",
    "D",
    "M",
    "S",
    "B",
    "CRUK",
    "AMAZONFEE",
    "BANK CHARGES",
    "PADS",
];

/// What the conversion kept, printed as JSON and written beside the files.
#[derive(Debug, Serialize, PartialEq)]
pub struct Summary {
    pub users: usize,
    pub items: usize,
    pub interactions: usize,
    /// Users whose last two items (the test target and the item before it) come from one invoice.
    pub last_pairs_in_one_invoice: usize,
    /// The same for the validation target and the item before it.
    pub valid_pairs_in_one_invoice: usize,
}

struct Line {
    ts: i64,
    invoice: String,
    row: usize,
    code: String,
}

pub fn run(cmd: &DataCommand) -> Result<()> {
    match cmd {
        DataCommand::Onlineretail(args) => {
            let file = std::fs::File::open(&args.input)
                .with_context(|| format!("reading {}", args.input.display()))?;
            let summary = convert(file, &args.out, args.min_items)?;
            println!("{}", serde_json::to_string(&summary)?);
            Ok(())
        }
    }
}

/// Reads the transactions CSV from `input` and writes the data set into `out`.
pub fn convert(input: impl std::io::Read, out: &Path, min_items: usize) -> Result<Summary> {
    if min_items < 3 {
        bail!("--min-items must be at least 3: a history, a validation and a test target");
    }
    let mut reader = csv::Reader::from_reader(input);
    let headers = reader.headers()?.clone();
    let col = |name: &str| {
        headers
            .iter()
            .position(|h| h.trim() == name)
            .with_context(|| format!("the CSV header lacks {name}"))
    };
    let (ci, cc, cd, cq, ct, cp, cu) = (
        col("InvoiceNo")?,
        col("StockCode")?,
        col("Description")?,
        col("Quantity")?,
        col("InvoiceDate")?,
        col("UnitPrice")?,
        col("CustomerID")?,
    );
    let mut by_customer: BTreeMap<String, Vec<Line>> = BTreeMap::new();
    let mut titles: HashMap<String, HashMap<String, usize>> = HashMap::new();
    let mut prices: HashMap<String, Vec<f64>> = HashMap::new();
    for (row, rec) in reader.records().enumerate() {
        let rec = rec.with_context(|| format!("CSV record {}", row + 2))?;
        let get = |i: usize| rec.get(i).unwrap_or("").trim();
        let (invoice, code, customer) = (get(ci), get(cc), get(cu));
        let quantity: f64 = get(cq).parse().unwrap_or(0.0);
        let price: f64 = get(cp).parse().unwrap_or(0.0);
        if invoice.starts_with('C')
            || quantity <= 0.0
            || price <= 0.0
            || customer.is_empty()
            || code.is_empty()
            || SERVICE_CODES.contains(&code)
        {
            continue;
        }
        if code.chars().any(char::is_whitespace) {
            bail!("CSV record {}: stock code {code:?} has a space", row + 2);
        }
        let ts = PrimitiveDateTime::parse(get(ct), &Iso8601::DEFAULT)
            .with_context(|| format!("CSV record {}: InvoiceDate {:?}", row + 2, get(ct)))?
            .assume_utc()
            .unix_timestamp();
        let title = get(cd);
        if !title.is_empty() {
            *titles
                .entry(code.into())
                .or_default()
                .entry(title.into())
                .or_default() += 1;
        }
        prices.entry(code.into()).or_default().push(price);
        by_customer.entry(customer.into()).or_default().push(Line {
            ts,
            invoice: invoice.into(),
            row,
            code: code.into(),
        });
    }
    let mut users: Vec<(String, Vec<&Line>)> = Vec::new();
    for (customer, lines) in &mut by_customer {
        lines.sort_by(|a, b| (a.ts, &a.invoice, a.row).cmp(&(b.ts, &b.invoice, b.row)));
        let mut seen = std::collections::HashSet::new();
        let firsts: Vec<&Line> = lines.iter().filter(|l| seen.insert(l.code.as_str())).collect();
        if firsts.len() >= min_items {
            users.push((customer.clone(), firsts));
        }
    }
    let mut codes: Vec<&str> = users
        .iter()
        .flat_map(|(_, l)| l.iter().map(|l| l.code.as_str()))
        .collect();
    codes.sort_unstable();
    codes.dedup();

    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let create = |name: &str| -> Result<std::io::BufWriter<std::fs::File>> {
        let p = out.join(name);
        Ok(std::io::BufWriter::new(
            std::fs::File::create(&p).with_context(|| format!("writing {}", p.display()))?,
        ))
    };
    let mut items = create("onlineretail_items.tsv")?;
    writeln!(items, "item_id\ttitle\tprice")?;
    for code in &codes {
        // The description most lines give (ties: the alphabetically first), the median price.
        let title = titles
            .get(*code)
            .and_then(|t| t.iter().max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0))))
            .map_or("", |(t, _)| t.as_str());
        let p = prices.get_mut(*code).context("a kept line has a price")?;
        p.sort_by(f64::total_cmp);
        let median = if p.len() % 2 == 1 {
            p[p.len() / 2]
        } else {
            (p[p.len() / 2 - 1] + p[p.len() / 2]) / 2.0
        };
        writeln!(items, "{code}\t{}\t{median}", title.replace('\t', " "))?;
    }
    let (mut seqs, mut times) = (create("sequential_data.txt")?, create("timestamps.txt")?);
    let mut summary = Summary {
        users: users.len(),
        items: codes.len(),
        interactions: 0,
        last_pairs_in_one_invoice: 0,
        valid_pairs_in_one_invoice: 0,
    };
    for (customer, lines) in &users {
        let n = lines.len();
        summary.interactions += n;
        summary.last_pairs_in_one_invoice += usize::from(lines[n - 1].invoice == lines[n - 2].invoice);
        summary.valid_pairs_in_one_invoice += usize::from(lines[n - 2].invoice == lines[n - 3].invoice);
        let codes: Vec<&str> = lines.iter().map(|l| l.code.as_str()).collect();
        let ts: Vec<String> = lines.iter().map(|l| l.ts.to_string()).collect();
        writeln!(seqs, "{customer} {}", codes.join(" "))?;
        writeln!(times, "{customer} {}", ts.join(" "))?;
    }
    for mut f in [items, seqs, times] {
        f.flush()?;
    }
    std::fs::write(
        out.join("summary.json"),
        serde_json::to_string_pretty(&summary)? + "\n",
    )?;
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two customers kept (5 distinct products each), one dropped (4); every kind of line that must go.
    const CSV: &str = "\
InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country
100,A1,RED MUG,1,2011-01-01T10:00:00,2.5,12345,United Kingdom
100,B2,\"KEY FOB , SHED\",2,2011-01-01T10:00:00,0.65,12345,United Kingdom
101,C3,BLUE MUG,1,2011-01-02T09:00:00,3,12345,United Kingdom
C102,C3,BLUE MUG,-1,2011-01-03T09:00:00,3,12345,United Kingdom
103,POST,POSTAGE,1,2011-01-03T09:00:00,18,12345,United Kingdom
104,A1,RED MUG,1,2011-01-04T09:00:00,2.7,12345,United Kingdom
105,D4,GREEN MUG,1,2011-01-05T09:00:00,3,12345,United Kingdom
105,E5,TEA SET,1,2011-01-05T09:00:00,9.95,12345,United Kingdom
106,A1,RED MUG,1,2011-01-01T08:00:00,2.5,,United Kingdom
200,E5,TEA SET,1,2011-02-01T12:00:00,9.95,22222,France
200,A1,RED MUGS,1,2011-02-01T12:00:00,2.5,22222,France
201,B2,\"KEY FOB , SHED\",1,2011-01-31T12:00:00,0.65,22222,France
200,F6,,1,2011-02-01T12:00:00,1,22222,France
203,C3,BLUE MUG,0,2011-02-03T12:00:00,3,22222,France
204,G7,JAM JAR,1,2011-02-04T12:00:00,0,22222,France
205,F6,TEA TOWEL,1,2011-02-05T12:00:00,1.2,22222,France
206,D4,GREEN MUG,3,2011-02-06T12:00:00,3,22222,France
300,A1,RED MUG,1,2011-03-01T12:00:00,2.5,33333,France
300,B2,KEY FOB,1,2011-03-01T12:00:00,0.65,33333,France
301,C3,BLUE MUG,1,2011-03-02T12:00:00,3,33333,France
302,H8,LONE BOWL,1,2011-03-03T12:00:00,4,33333,France
";

    #[test]
    fn converts_a_hand_made_log_to_literal_files() {
        let dir = std::env::temp_dir().join(format!("vitrine-or-{}", std::process::id()));
        let summary = convert(CSV.as_bytes(), &dir, 5).unwrap();
        let read = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap();
        // 22222: B2 is bought first (Jan 31, though later in the file); invoice 200's lines keep file
        // order (E5, A1, F6); F6's second purchase and the zero-quantity C3 add nothing.
        assert_eq!(
            read("sequential_data.txt"),
            "12345 A1 B2 C3 D4 E5\n22222 B2 E5 A1 F6 D4\n"
        );
        assert_eq!(
            read("timestamps.txt"),
            "12345 1293876000 1293876000 1293958800 1294218000 1294218000\n\
             22222 1296475200 1296561600 1296561600 1296561600 1296993600\n"
        );
        // Most frequent description (RED MUG 2 : RED MUGS 1; an empty one does not count), median price;
        // H8 (only the dropped customer's) and G7 (price 0) are not items.
        assert_eq!(
            read("onlineretail_items.tsv"),
            "item_id\ttitle\tprice\nA1\tRED MUG\t2.5\nB2\tKEY FOB , SHED\t0.65\nC3\tBLUE MUG\t3\n\
             D4\tGREEN MUG\t3\nE5\tTEA SET\t9.95\nF6\tTEA TOWEL\t1.1\n"
        );
        assert_eq!(
            summary,
            Summary {
                users: 2,
                items: 6,
                interactions: 10,
                // 12345's D4 and E5 (invoice 105); 22222's A1 and F6 (invoice 200).
                last_pairs_in_one_invoice: 1,
                valid_pairs_in_one_invoice: 1,
            }
        );
        // The shared loader reads it back, prices and times included.
        let ds = crate::data::Dataset::load(&dir).unwrap();
        assert_eq!(ds.seqs, [vec![0, 1, 2, 3, 4], vec![1, 4, 0, 5, 3]]);
        assert_eq!(ds.prices[5], Some(1.1));
        assert_eq!(ds.times.as_ref().unwrap()[1][4], 1296993600);
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(convert(CSV.as_bytes(), &dir, 2).is_err());
    }
}
