//! The statistical half of spam scoring: a token classifier in the SpamBayes tradition
//! (Robinson's per-token probabilities combined with Fisher's chi-square method), trained on an
//! operator's labelled mail (`moat spam train`) and later on customers' reports.
//!
//! Why a model file and rkyv: a trained model is a sorted table of token hashes with spam/ham
//! counts, built off the SMTP path and read by every shard; it crosses a process boundary (the
//! trainer writes it, the scanner maps it in), so it is stored as an archived rkyv record that
//! is validated once on load and never re-trained at start.

use std::{collections::HashMap, path::Path};

use crate::{
    detect::links::Rendered,
    message::{MessageView, domain_of},
};

/// Errors of loading or writing a model.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("cannot read or write the spam model {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("the spam model {path} is not a valid model file: {reason}")]
    Invalid { path: String, reason: String },
}

/// The archived form of a model: parallel arrays sorted by token hash.
#[derive(Debug, Default, Clone, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
struct ModelData {
    /// Format version, so a future layout is refused instead of misread.
    version: u32,
    nspam: u32,
    nham: u32,
    hashes: Vec<u64>,
    /// `[spam, ham]` message counts per token.
    counts: Vec<[u32; 2]>,
}

const FORMAT_VERSION: u32 = 1;

/// Messages of each class a model needs before its opinion is used.
pub const MIN_TRAINED: u32 = 50;

/// A trained, immutable model.
#[derive(Debug, Default, Clone)]
pub struct BayesModel {
    data: ModelData,
}

/// Builds a model from labelled messages.
#[derive(Debug, Default, Clone)]
pub struct Trainer {
    nspam: u32,
    nham: u32,
    counts: HashMap<u64, [u32; 2]>,
}

impl Trainer {
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts from an existing model (to add reports to it).
    pub fn from_model(model: &BayesModel) -> Self {
        Trainer {
            nspam: model.data.nspam,
            nham: model.data.nham,
            counts: model
                .data
                .hashes
                .iter()
                .copied()
                .zip(model.data.counts.iter().copied())
                .collect(),
        }
    }

    /// Learns one message's tokens (as given by [`tokens`]).
    pub fn learn(&mut self, tokens: &[u64], spam: bool) {
        let class = usize::from(!spam);
        if spam {
            self.nspam += 1;
        } else {
            self.nham += 1;
        }
        for t in tokens {
            let c = self.counts.entry(*t).or_default();
            c[class] = c[class].saturating_add(1);
        }
    }

    pub fn trained(&self) -> (u32, u32) {
        (self.nspam, self.nham)
    }

    /// The model, dropping tokens seen in only one message (they carry noise and most of the
    /// table's size). For an operator's corpus of thousands of messages.
    pub fn build(&self) -> BayesModel {
        self.build_keeping(2)
    }

    /// The model with every token kept: for a customer's reports, where each reported
    /// message's own tokens are the lesson (pruning singletons would make a first report
    /// teach nothing new).
    pub fn build_all(&self) -> BayesModel {
        self.build_keeping(1)
    }

    fn build_keeping(&self, min_messages: u32) -> BayesModel {
        let mut rows: Vec<(u64, [u32; 2])> = self
            .counts
            .iter()
            .filter(|(_, c)| c[0] + c[1] >= min_messages)
            .map(|(h, c)| (*h, *c))
            .collect();
        rows.sort_unstable_by_key(|r| r.0);
        BayesModel {
            data: ModelData {
                version: FORMAT_VERSION,
                nspam: self.nspam,
                nham: self.nham,
                hashes: rows.iter().map(|r| r.0).collect(),
                counts: rows.iter().map(|r| r.1).collect(),
            },
        }
    }
}

impl BayesModel {
    /// Messages trained on: `(spam, ham)`.
    pub fn trained(&self) -> (u32, u32) {
        (self.data.nspam, self.data.nham)
    }

    pub fn token_count(&self) -> usize {
        self.data.hashes.len()
    }

    /// Whether the model has seen enough mail of both classes to be asked.
    pub fn is_usable(&self) -> bool {
        self.data.nspam >= MIN_TRAINED && self.data.nham >= MIN_TRAINED
    }

    /// The model as bytes (an rkyv archive).
    pub fn to_bytes(&self) -> Vec<u8> {
        rkyv::to_bytes::<rkyv::rancor::Error>(&self.data)
            .map(|b| b.to_vec())
            .unwrap_or_default()
    }

    /// Reads a model from bytes, validating the archive.
    pub fn from_bytes(bytes: &[u8], path: &str) -> Result<BayesModel, ModelError> {
        let invalid = |reason: String| ModelError::Invalid {
            path: path.to_string(),
            reason,
        };
        let mut aligned = rkyv::util::AlignedVec::<16>::with_capacity(bytes.len());
        aligned.extend_from_slice(bytes);
        let archived = rkyv::access::<ArchivedModelData, rkyv::rancor::Error>(&aligned)
            .map_err(|e| invalid(e.to_string()))?;
        if archived.version.to_native() != FORMAT_VERSION {
            return Err(invalid(format!(
                "format version {} (this Moat reads {FORMAT_VERSION})",
                archived.version.to_native()
            )));
        }
        let data: ModelData = rkyv::deserialize::<ModelData, rkyv::rancor::Error>(archived)
            .map_err(|e| invalid(e.to_string()))?;
        if data.hashes.len() != data.counts.len() || !data.hashes.is_sorted() {
            return Err(invalid("token table is not sorted or not paired".into()));
        }
        Ok(BayesModel { data })
    }

    pub fn load(path: &Path) -> Result<BayesModel, ModelError> {
        let shown = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|source| ModelError::Io {
            path: shown.clone(),
            source,
        })?;
        Self::from_bytes(&bytes, &shown)
    }

    /// Writes the model atomically (temporary file, then rename).
    pub fn save(&self, path: &Path) -> Result<(), ModelError> {
        let io = |source| ModelError::Io {
            path: path.display().to_string(),
            source,
        };
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, self.to_bytes()).map_err(io)?;
        std::fs::rename(&tmp, path).map_err(io)
    }

    fn counts(&self, token: u64) -> Option<[u32; 2]> {
        self.data
            .hashes
            .binary_search(&token)
            .ok()
            .map(|i| self.data.counts[i])
    }

    /// The probability that a message with these tokens is spam, from 0 to 1 (0.5: no opinion).
    pub fn classify(&self, tokens: &[u64]) -> f64 {
        classify_with(&[self], tokens)
    }
}

/// Whether models taken together have seen enough mail of both classes to be asked.
pub fn usable_together(models: &[&BayesModel]) -> bool {
    let (s, h) = models.iter().fold((0u64, 0u64), |(s, h), m| {
        (s + u64::from(m.data.nspam), h + u64::from(m.data.nham))
    });
    s >= u64::from(MIN_TRAINED) && h >= u64::from(MIN_TRAINED)
}

/// Classifies with several models as one: message and token counts are added (the
/// gateway's model plus a customer's own reports, say), so a customer's lessons move only its
/// own verdicts.
pub fn classify_with(models: &[&BayesModel], tokens: &[u64]) -> f64 {
    const UNKNOWN_STRENGTH: f64 = 0.45;
    const UNKNOWN_PROB: f64 = 0.5;
    const MIN_STRENGTH: f64 = 0.1;
    const MAX_TOKENS: usize = 150;
    let nspam: f64 = models.iter().map(|m| f64::from(m.data.nspam)).sum();
    let nham: f64 = models.iter().map(|m| f64::from(m.data.nham)).sum();
    if nspam == 0.0 || nham == 0.0 {
        return 0.5;
    }
    let counts = |t: u64| {
        let mut found = false;
        let mut sum = [0u32; 2];
        for m in models {
            if let Some([s, h]) = m.counts(t) {
                found = true;
                sum[0] = sum[0].saturating_add(s);
                sum[1] = sum[1].saturating_add(h);
            }
        }
        found.then_some(sum)
    };
    let mut clues: Vec<f64> = tokens
        .iter()
        .filter_map(|t| counts(*t))
        .map(|[s, h]| {
            let (s, h) = (f64::from(s), f64::from(h));
            let (sr, hr) = ((s / nspam).min(1.0), (h / nham).min(1.0));
            let p = sr / (sr + hr);
            let n = s + h;
            (UNKNOWN_STRENGTH * UNKNOWN_PROB + n * p) / (UNKNOWN_STRENGTH + n)
        })
        .filter(|f| (f - 0.5).abs() >= MIN_STRENGTH)
        .collect();
    if clues.is_empty() {
        return 0.5;
    }
    clues.sort_by(|a, b| (b - 0.5).abs().total_cmp(&(a - 0.5).abs()));
    clues.truncate(MAX_TOKENS);
    let n = clues.len();
    let ln_ham: f64 = clues.iter().map(|f| f.max(1e-12).ln()).sum();
    let ln_spam: f64 = clues.iter().map(|f| (1.0 - f).max(1e-12).ln()).sum();
    let s = 1.0 - chi2q(-2.0 * ln_spam, 2 * n);
    let h = 1.0 - chi2q(-2.0 * ln_ham, 2 * n);
    ((s - h + 1.0) / 2.0).clamp(0.0, 1.0)
}

/// The chi-square survival function for an even number of degrees of freedom.
fn chi2q(x2: f64, v: usize) -> f64 {
    let m = x2 / 2.0;
    let mut term = (-m).exp();
    let mut sum = term;
    for i in 1..v / 2 {
        term *= m / i as f64;
        sum += term;
    }
    sum.min(1.0)
}

/// FNV-1a: a hash that is the same in every build, so a model outlives the binary.
fn hash(prefix: &str, token: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in prefix.bytes().chain([0u8]).chain(token.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Adds the word tokens of `text` under `prefix`.
fn words(prefix: &str, text: &str, out: &mut Vec<u64>) {
    let mut prev: Option<String> = None;
    for raw in text.split_whitespace() {
        let w = raw
            .trim_matches(|c: char| !(c.is_alphanumeric() || matches!(c, '$' | '!' | '%' | '@')));
        let len = w.chars().count();
        if len < 3 {
            continue;
        }
        let lower = w.to_lowercase();
        if let Some((_, domain)) = lower.rsplit_once('@')
            && domain.contains('.')
        {
            out.push(hash("email", domain));
        } else if len > 20 {
            // Long runs (base64 leftovers, hashes) say little beyond their shape.
            let first = lower.chars().next().unwrap_or('?');
            out.push(hash("skip", &format!("{first}{}", len / 10 * 10)));
        } else {
            // Word pairs catch phrasing single words miss ("click here", "dear friend").
            if let Some(p) = &prev {
                out.push(hash("bi", &format!("{p} {lower}")));
            }
            out.push(hash(prefix, &lower));
            prev = Some(lower);
        }
    }
}

/// The tokens the classifier learns and judges a message by: subject and visible body words,
/// link hosts, a few header facts (sender domain, mailer, content type, charset, markup).
/// Deduplicated: each token counts once per message.
pub fn tokens(view: &MessageView<'_>, rendered: &Rendered) -> Vec<u64> {
    let mut out = Vec::with_capacity(512);
    words("s", view.subject, &mut out);
    for (_, text, html) in &rendered.texts {
        words("b", text, &mut out);
        if *html {
            out.push(hash("has", "html"));
        }
    }
    if !rendered.has_plain_text() && !rendered.texts.is_empty() {
        out.push(hash("has", "html-only"));
    }
    for l in &rendered.links {
        out.push(hash("url", &l.host));
        let path = l.href.splitn(4, '/').nth(3).unwrap_or("");
        for piece in path
            .split(['/', '?', '&', '=', '.', '-', '_'])
            .filter(|p| (3..=20).contains(&p.len()))
        {
            out.push(hash("urlpath", &piece.to_lowercase()));
        }
        let labels: Vec<&str> = l.host.rsplitn(3, '.').collect();
        if labels.len() >= 2 {
            out.push(hash("url2", &format!("{}.{}", labels[1], labels[0])));
        }
    }
    out.push(hash("links", &rendered.links.len().min(20).to_string()));
    out.push(hash("from", &domain_of(view.from_address)));
    words("fromname", view.from_name, &mut out);
    if !view.reply_to.is_empty() {
        out.push(hash("has", "reply-to"));
    }
    for (name, value) in &view.headers {
        // Which fields a mailer writes is a fingerprint of the mailer.
        out.push(hash("hdr", name));
        let value = String::from_utf8_lossy(value);
        let first = value
            .split([';', '(', '\r', '\n'])
            .next()
            .unwrap_or("")
            .trim();
        match name.as_str() {
            "x-mailer" | "user-agent" => out.push(hash("mailer", &first.to_lowercase())),
            "content-type" => {
                out.push(hash("ct", &first.to_lowercase()));
                if let Some(cs) = value.to_lowercase().split("charset=").nth(1) {
                    let cs = cs
                        .trim_matches(['"', ' '])
                        .split([';', '"', ' ', '\r'])
                        .next();
                    out.push(hash("charset", cs.unwrap_or("")));
                }
            }
            "message-id" => {
                let id = first.trim_matches(['<', '>']);
                out.push(hash("mid", &domain_of(id)));
                // The id's shape (letters, digits, punctuation) tells mailers apart.
                let shape: String = id
                    .split('@')
                    .next()
                    .unwrap_or("")
                    .chars()
                    .map(|c| match c {
                        'a'..='z' => 'a',
                        'A'..='Z' => 'A',
                        '0'..='9' => '9',
                        c => c,
                    })
                    .fold(String::new(), |mut acc, c| {
                        if !acc.ends_with(c) {
                            acc.push(c);
                        }
                        acc
                    });
                out.push(hash("midshape", &shape));
            }
            "date" => {
                // The zone's format (`+0100`, `-0700 (PDT)`, `GMT`) is a mailer's signature.
                let zone = value.trim().rsplit(' ').next().unwrap_or("");
                out.push(hash("datezone", zone));
            }
            "content-transfer-encoding" => out.push(hash("cte", &first.to_lowercase())),
            "received" => {
                // The relays' domains (`from host.example.net (...)`), two labels deep.
                if let Some(host) = value.split_whitespace().nth(1) {
                    let host = host.trim_matches(['(', ')', '[', ']']).to_lowercase();
                    let labels: Vec<&str> = host.rsplitn(3, '.').collect();
                    if labels.len() >= 2 && labels[0].chars().all(char::is_alphabetic) {
                        out.push(hash("rcvd", &format!("{}.{}", labels[1], labels[0])));
                    }
                }
            }
            _ => {}
        }
    }
    for a in &view.attachments {
        for ext in a.extensions() {
            out.push(hash("attach", ext));
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::parse;

    fn toks(raw: &str) -> Vec<u64> {
        let msg = parse(raw.as_bytes()).expect("parses");
        let view = MessageView::new(&msg, "");
        tokens(&view, &Rendered::of(&view))
    }

    #[test]
    fn learns_to_tell_classes_apart_and_survives_a_round_trip() {
        let mut t = Trainer::new();
        for i in 0..60 {
            let spam = toks(&format!(
                "From: promo{i}@deals.example\r\nSubject: Cheap pills now {i}\r\n\r\nBuy cheap pills today, best price guaranteed {i}\r\n"
            ));
            let ham = toks(&format!(
                "From: alice@corp.example\r\nSubject: Minutes of meeting {i}\r\n\r\nAttached are the minutes, see agenda item {i}\r\n"
            ));
            t.learn(&spam, true);
            t.learn(&ham, false);
        }
        let model = t.build();
        assert!(model.is_usable());
        let back = BayesModel::from_bytes(&model.to_bytes(), "test").expect("valid archive");
        assert_eq!(back.trained(), (60, 60));
        assert_eq!(back.token_count(), model.token_count());
        let spam = back.classify(&toks(
            "From: x@deals.example\r\nSubject: pills\r\n\r\ncheap pills best price\r\n",
        ));
        let ham = back.classify(&toks(
            "From: bob@corp.example\r\nSubject: meeting\r\n\r\nthe minutes and the agenda\r\n",
        ));
        assert!(spam > 0.9, "spam {spam}");
        assert!(ham < 0.1, "ham {ham}");
        assert_eq!(back.classify(&[]), 0.5);
    }

    #[test]
    fn damaged_model_files_are_refused() {
        let mut t = Trainer::new();
        t.learn(&[1, 2, 3], true);
        t.learn(&[1, 2, 4], false);
        let bytes = t.build().to_bytes();
        assert!(BayesModel::from_bytes(&bytes, "ok").is_ok());
        for cut in [0, 1, bytes.len() / 2, bytes.len() - 1] {
            assert!(
                BayesModel::from_bytes(&bytes[..cut], "cut").is_err(),
                "cut at {cut}"
            );
        }
        assert!(BayesModel::from_bytes(b"not a model at all, just text", "text").is_err());
    }

    #[test]
    fn chi_square_tail() {
        assert!((chi2q(0.0, 4) - 1.0).abs() < 1e-12);
        // P(chi2 with 2 dof > 2) = e^-1.
        assert!((chi2q(2.0, 2) - (-1.0f64).exp()).abs() < 1e-12);
        assert!(chi2q(200.0, 4) < 1e-30);
    }
}
