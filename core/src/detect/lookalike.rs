//! Domains built to be mistaken for others: homoglyph and punycode spellings (`paypa1.com`,
//! `xn--pypal-4ve.com` for `pаypal.com` with a Cyrillic а), one-letter typos (`amazom.com`) and
//! brand-plus-word combinations (`paypal-secure.com`) of well-known brands and of the protected
//! domain itself. Shared by the phishing and BEC classes.

/// Brands phishers imitate most, with the registrable domains that really are theirs.
pub const BRANDS: &[(&str, &[&str])] = &[
    ("paypal", &["paypal.com", "paypal.me"]),
    ("apple", &["apple.com", "icloud.com", "me.com"]),
    ("icloud", &["icloud.com", "apple.com"]),
    (
        "microsoft",
        &[
            "microsoft.com",
            "office.com",
            "live.com",
            "outlook.com",
            "microsoftonline.com",
            "office365.com",
        ],
    ),
    (
        "office365",
        &["office365.com", "microsoft.com", "office.com"],
    ),
    ("outlook", &["outlook.com", "microsoft.com", "live.com"]),
    (
        "google",
        &["google.com", "gmail.com", "googlemail.com", "youtube.com"],
    ),
    ("gmail", &["gmail.com", "google.com"]),
    (
        "amazon",
        &[
            "amazon.com",
            "amazon.co.uk",
            "amazon.de",
            "amazon.fr",
            "amazonaws.com",
            "amazonses.com",
        ],
    ),
    ("netflix", &["netflix.com"]),
    (
        "facebook",
        &["facebook.com", "facebookmail.com", "fb.com", "meta.com"],
    ),
    ("instagram", &["instagram.com"]),
    ("linkedin", &["linkedin.com"]),
    ("dropbox", &["dropbox.com", "dropboxmail.com"]),
    ("docusign", &["docusign.com", "docusign.net"]),
    ("wellsfargo", &["wellsfargo.com"]),
    ("bankofamerica", &["bankofamerica.com", "bofa.com"]),
    ("chase", &["chase.com", "jpmorganchase.com"]),
    ("citibank", &["citibank.com", "citi.com"]),
    ("americanexpress", &["americanexpress.com", "aexp.com"]),
    ("hsbc", &["hsbc.com", "hsbc.co.uk"]),
    ("barclays", &["barclays.com", "barclays.co.uk"]),
    ("coinbase", &["coinbase.com"]),
    ("binance", &["binance.com"]),
    ("adobe", &["adobe.com"]),
    ("ebay", &["ebay.com", "ebay.co.uk", "ebay.de"]),
    ("dhl", &["dhl.com", "dhl.de"]),
    ("fedex", &["fedex.com"]),
    ("usps", &["usps.com", "usps.gov"]),
    ("docusign", &["docusign.com"]),
    ("steampowered", &["steampowered.com", "steamcommunity.com"]),
];

/// Second-level labels under which registrations happen one level deeper (`example.co.uk`).
const SECOND_LEVEL: &[&str] = &["co", "com", "net", "org", "gov", "ac", "edu", "ne", "or"];

/// The registrable domain (`mail.example.co.uk` → `example.co.uk`), an approximation of the
/// public suffix list good enough to compare two hosts.
pub fn registrable(host: &str) -> String {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let labels: Vec<&str> = host.split('.').collect();
    let n = labels.len();
    if n <= 2 {
        return host;
    }
    let keep = if labels[n - 1].len() == 2 && SECOND_LEVEL.contains(&labels[n - 2]) {
        3
    } else {
        2
    };
    labels[n.saturating_sub(keep)..].join(".")
}

/// The label a registrable domain is named by (`example.co.uk` → `example`).
pub fn name_label(host: &str) -> String {
    let reg = registrable(host);
    reg.split('.').next().unwrap_or("").to_string()
}

/// Maps characters that look alike to one representative, so `paypa1`, `pаypal` (Cyrillic)
/// and `paypal` share a skeleton (after Unicode TR39's idea, for the common cases).
pub fn skeleton(label: &str) -> String {
    let mapped: String = label
        .to_lowercase()
        .chars()
        .map(|c| match c {
            '0' | 'о' | 'ο' | 'օ' => 'o',
            '1' | 'i' | 'l' | '|' | 'і' | 'ӏ' | 'ι' | 'ł' => 'l',
            '3' | 'е' | 'ε' | 'ё' => 'e',
            '4' | 'а' | 'α' | '@' => 'a',
            '5' | 'ѕ' | '$' => 's',
            '7' => 't',
            '8' => 'b',
            'р' | 'ρ' => 'p',
            'с' | 'ϲ' => 'c',
            'у' | 'γ' => 'y',
            'х' | 'χ' => 'x',
            'ԁ' => 'd',
            'ո' => 'n',
            'к' | 'κ' => 'k',
            'м' => 'm',
            'т' | 'τ' => 't',
            'в' => 'b',
            'н' => 'h',
            'ј' => 'j',
            'ԛ' => 'q',
            'ѡ' | 'ω' => 'w',
            c => c,
        })
        .collect();
    mapped
        .replace("rn", "m")
        .replace("vv", "w")
        .replace("cl", "d")
}

/// Levenshtein distance, capped: returns `cap + 1` as soon as it must exceed `cap`.
fn distance(a: &str, b: &str, cap: usize) -> usize {
    // Most pairs differ in length by more than `cap`: answered before allocating anything.
    if a.chars().count().abs_diff(b.chars().count()) > cap {
        return cap + 1;
    }
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        if cur.iter().min().is_some_and(|m| *m > cap) {
            return cap + 1;
        }
        prev = cur;
    }
    prev[b.len()]
}

/// How a host imitates a name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Imitation {
    /// Same skeleton, different spelling (homoglyphs, punycode).
    Homoglyph,
    /// One edit away.
    Typo,
    /// The name plus words (`paypal-secure`, `secure-paypal-login`).
    Combination,
}

impl Imitation {
    pub fn as_str(&self) -> &'static str {
        match self {
            Imitation::Homoglyph => "homoglyph",
            Imitation::Typo => "typo",
            Imitation::Combination => "combination",
        }
    }
}

/// The host in Unicode (punycode labels decoded), lower-cased.
pub fn unicode_host(host: &str) -> String {
    if host.split('.').any(|l| l.starts_with("xn--")) {
        idna::domain_to_unicode(host).0.to_lowercase()
    } else {
        host.to_lowercase()
    }
}

/// A host taken apart once, so comparing it with many names (every brand) costs no new
/// strings per name.
struct Suspect {
    /// The registrable domain, lower-cased ASCII as written.
    reg: String,
    /// Its first label in Unicode.
    label: String,
    label_skeleton: String,
    /// The label's `-`-separated words with their skeletons.
    words: Vec<(String, String)>,
}

impl Suspect {
    fn of(host: &str) -> Suspect {
        let reg = registrable(host);
        let uni = unicode_host(&reg);
        let label = uni.split('.').next().unwrap_or("").to_string();
        let words = label
            .split('-')
            .map(|w| (w.to_string(), skeleton(w)))
            .collect();
        Suspect {
            label_skeleton: skeleton(&label),
            reg,
            label,
            words,
        }
    }

    /// Whether this host imitates `name` (whose skeleton is `name_skeleton`) without being
    /// one of `genuine`.
    fn imitates(&self, name: &str, name_skeleton: &str, genuine: &[&str]) -> Option<Imitation> {
        if genuine.iter().any(|g| self.reg == *g) {
            return None;
        }
        let label = self.label.as_str();
        if label.is_empty() || name.len() < 4 {
            return None;
        }
        if label == name {
            // The name itself under another suffix (`amazon.co.jp`) is too often the brand's own.
            return None;
        }
        if self.label_skeleton == name_skeleton {
            return Some(Imitation::Homoglyph);
        }
        if self
            .words
            .iter()
            .any(|(w, sk)| w == name || sk == name_skeleton)
        {
            return Some(Imitation::Combination);
        }
        if name.len() >= 6 && distance(label, name, 1) == 1 {
            return Some(Imitation::Typo);
        }
        None
    }
}

/// Whether `host` imitates `name` (a brand or a protected domain's label) without being one of
/// `genuine` (registrable domains that really are that name's).
pub fn imitates(host: &str, name: &str, genuine: &[&str]) -> Option<Imitation> {
    Suspect::of(host).imitates(name, &skeleton(name), genuine)
}

/// The brands' skeletons, in [`BRANDS`] order, worked out once.
fn brand_skeletons() -> &'static [String] {
    static SKELETONS: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    SKELETONS.get_or_init(|| BRANDS.iter().map(|(b, _)| skeleton(b)).collect())
}

/// The brand a host imitates, if any.
pub fn imitated_brand(host: &str) -> Option<(&'static str, Imitation)> {
    let suspect = Suspect::of(host);
    BRANDS
        .iter()
        .zip(brand_skeletons())
        .find_map(|((brand, genuine), sk)| {
            suspect.imitates(brand, sk, genuine).map(|i| (*brand, i))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registrable_domains() {
        assert_eq!(registrable("mail.example.co.uk"), "example.co.uk");
        assert_eq!(registrable("a.b.example.com."), "example.com");
        assert_eq!(registrable("example.com"), "example.com");
    }

    #[test]
    fn brand_imitations_are_recognised() {
        assert_eq!(imitated_brand("paypa1.com").map(|b| b.0), Some("paypal"));
        assert_eq!(imitated_brand("www.paypal.com"), None);
        assert_eq!(imitated_brand("paypal.me"), None);
        // Cyrillic а in punycode.
        let puny = idna::domain_to_ascii("pаypal.com").expect("encodes");
        assert!(puny.starts_with("xn--"), "{puny}");
        assert_eq!(
            imitated_brand(&puny),
            Some(("paypal", Imitation::Homoglyph))
        );
        assert_eq!(
            imitated_brand("secure-paypal-login.example"),
            Some(("paypal", Imitation::Combination))
        );
        assert_eq!(
            imitated_brand("amazom.com"),
            Some(("amazon", Imitation::Typo))
        );
        assert_eq!(
            imitated_brand("rnicrosoft.com"),
            Some(("microsoft", Imitation::Homoglyph))
        );
        for fine in [
            "example.com",
            "apply.com",
            "chasm.org",
            "googleusercontent.com",
            "amazing.com",
            "docs.python.org",
        ] {
            assert_eq!(imitated_brand(fine), None, "{fine}");
        }
    }

    #[test]
    fn protected_domain_cousins() {
        assert_eq!(
            imitates("acrne.com", "acme", &["acme.com"]),
            Some(Imitation::Homoglyph)
        );
        assert_eq!(
            imitates("examp1e.com", "example", &["example.com"]),
            Some(Imitation::Homoglyph)
        );
        assert_eq!(
            imitates("exarnple-billing.com", "example", &["example.com"]),
            Some(Imitation::Combination)
        );
        assert_eq!(
            imitates("exmple.com", "example", &["example.com"]),
            Some(Imitation::Typo)
        );
        assert_eq!(
            imitates("mail.example.com", "example", &["example.com"]),
            None
        );
    }
}
