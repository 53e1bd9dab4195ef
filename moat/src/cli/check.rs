//! `moat check`: the verdict the scanner would reach for a message file, computed offline with
//! the same scan and judgement (`moat_core::verdict`), without the SMTP envelope: no sender
//! authentication, no envelope sender rules. Given directories or several files it judges each
//! and can print a summary, so an operator can measure detection on a folder of their own mail.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    sync::Arc,
};

use anyhow::Context;
use moat_core::{
    config::Config,
    detect::{archive::Limits, bec, sa::SaEngine, spam},
    message::{MessageView, domain_of, parse},
    model::{Action, DeliveryMode, Domain, DomainDetection, DomainStatus, Finding, RelayTls},
    policy::PolicySet,
    store::SharedStore,
    time::now_ms,
    verdict::{DomainContext, DomainVerdict, Scan, Sender, judge, scan::Detectors},
};

use super::{block, existing_customer, open_store};

/// What `moat check` was asked.
pub struct CheckArgs {
    pub paths: Vec<PathBuf>,
    pub customer: Option<String>,
    pub human: bool,
    pub summary: bool,
}

/// Everything that does not change from one message to the next.
struct Judge<'a> {
    config: &'a Config,
    store: SharedStore,
    domains: Vec<Domain>,
    model: Option<spam::BayesModel>,
    spamassassin: Option<SaEngine>,
    /// The customer named on the command line: its id, policies and own model.
    forced: Option<CustomerSetup>,
    /// Customers met through recipient domains, by id.
    customers: BTreeMap<String, Arc<CustomerSetup>>,
}

struct CustomerSetup {
    id: String,
    policies: PolicySet,
    own_model: Option<spam::BayesModel>,
}

/// Every message file under `paths` (directories are walked, sorted by name).
fn message_files(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut stack = vec![p.clone()];
            while let Some(dir) = stack.pop() {
                let mut entries: Vec<PathBuf> = std::fs::read_dir(&dir)
                    .with_context(|| format!("reading {}", dir.display()))?
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .collect();
                entries.sort();
                for e in entries {
                    if e.is_dir() {
                        stack.push(e);
                    } else {
                        out.push(e);
                    }
                }
            }
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}

impl<'a> Judge<'a> {
    fn customer(&mut self, id: &str) -> anyhow::Result<Arc<CustomerSetup>> {
        if let Some(c) = self.customers.get(id) {
            return Ok(c.clone());
        }
        let c = Arc::new(setup(self.config, &self.store, id)?);
        self.customers.insert(id.to_string(), c.clone());
        Ok(c)
    }

    /// The verdict on one message, and the JSON report of it.
    /// The verdict, the JSON report, and the spam class's hits (shown even below the
    /// threshold, where the verdict records none).
    fn check(
        &mut self,
        file: &Path,
    ) -> anyhow::Result<(DomainVerdict, serde_json::Value, Vec<Finding>)> {
        let raw = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
        // A file saved from an mbox starts with a "From " line: it is not a header.
        let raw = match raw.strip_prefix(b"From ") {
            Some(rest) => rest
                .iter()
                .position(|&b| b == b'\n')
                .map_or(raw.clone(), |i| rest[i + 1..].to_vec()),
            None => raw,
        };
        let parsed = parse(&raw);
        let view = match &parsed {
            Some(m) => MessageView::new(m, ""),
            None => MessageView::envelope_only(""),
        };
        let to = parsed
            .as_ref()
            .and_then(|m| m.to())
            .and_then(|a| a.first())
            .and_then(|a| a.address())
            .map(domain_of)
            .unwrap_or_default();
        let domain = self.domains.iter().find(|d| d.name == to).cloned();
        let customer = match (&self.forced, &domain) {
            (Some(_), _) => None,
            (None, Some(d)) => Some(self.customer(&d.customer_id.clone())?),
            (None, None) => None,
        };
        let setup: Option<&CustomerSetup> = self.forced.as_ref().or(customer.as_deref());
        let detectors = Detectors {
            spam_model: self.model.as_ref(),
            spamassassin: self.spamassassin.as_ref(),
            keep_tokens: setup.is_some_and(|c| c.own_model.is_some()),
            now_secs: now_ms() / 1000,
        };
        let mut scan = Scan::of(&view, &raw, parsed.as_ref(), &detectors);
        scan.inspect_archives(Limits::default());
        let correspondence = match &domain {
            Some(d) if scan.asks_for_payment => {
                let history = block(self.store.sender_history(&d.id, view.from_address))?;
                bec::Correspondence::of(
                    history,
                    now_ms(),
                    self.config.policy.first_contact_learning_ms(),
                )
            }
            _ => bec::Correspondence::Unknown,
        };
        let empty = PolicySet::compile(&[])?;
        let domain = Arc::new(domain.unwrap_or_else(|| detached(&to, setup)));
        let rules = if domain.id.is_empty() {
            Vec::new()
        } else {
            block(self.store.sender_rules(&domain.customer_id, &domain.id))?
        };
        let verdict = judge(
            &view,
            &scan,
            &Sender::default(),
            DomainContext {
                rcpts: Vec::new(),
                policies: setup.map_or(&empty, |c| &c.policies),
                gateway_model: self.model.as_ref(),
                customer_model: setup.and_then(|c| c.own_model.as_ref()),
                sender_rules: &rules,
                correspondence,
                default_threshold: self.config.policy.spam_threshold,
                domain,
            },
        );
        let report = serde_json::json!({
            "file": file.display().to_string(),
            "parsed": parsed.is_some(),
            "customer_id": setup.map(|c| c.id.clone()),
            "subject": view.subject,
            "from": view.from_address,
            "verdict": verdict.action,
            "threat_type": verdict.threat_type(),
            "spam_score": (verdict.spam_score * 100.0).round() / 100.0,
            "matched_policies": verdict.outcome.matched.iter().map(|m| &m.name).collect::<Vec<_>>(),
            "findings": verdict.findings(),
        });
        let spam_hits = scan.spam.hits.clone();
        Ok((verdict, report, spam_hits))
    }
}

/// A customer's policies and own spam model, as the scanner has them.
fn setup(config: &Config, store: &SharedStore, id: &str) -> anyhow::Result<CustomerSetup> {
    let policies = PolicySet::compile(&block(store.policies(id))?)?;
    let reports = block(store.spam_reports(id, config.policy.reports_per_customer))?;
    let own_model = (!reports.is_empty()).then(|| {
        let mut trainer = spam::Trainer::new();
        for r in &reports {
            trainer.learn(&r.tokens, r.spam);
        }
        trainer.build_all()
    });
    Ok(CustomerSetup {
        id: id.to_string(),
        policies,
        own_model,
    })
}

/// The recipient domain of a message no protected domain matches: judged with the gateway's
/// defaults (its name still lets lookalike checks compare against it).
fn detached(name: &str, customer: Option<&CustomerSetup>) -> Domain {
    Domain {
        id: String::new(),
        customer_id: customer.map(|c| c.id.clone()).unwrap_or_default(),
        name: name.to_string(),
        real_mx_host: String::new(),
        delivery_mode: DeliveryMode::Proxy,
        status: DomainStatus::Active,
        created_at: 0,
        detection: DomainDetection::default(),
        verified_at: None,
        tls: RelayTls::default(),
        allow_internal_target: false,
        verification_token: String::new(),
    }
}

fn print_human(file: &Path, v: &DomainVerdict, spam_hits: &[Finding]) {
    let threat = v.threat_type().map(|t| format!(" ({})", t.as_str()));
    println!(
        "{}: {}{} spam score {:.2}",
        file.display(),
        v.action.as_str(),
        threat.unwrap_or_default(),
        v.spam_score
    );
    let findings = v.findings();
    for f in &findings {
        print_finding(f);
    }
    // Below the threshold the verdict records no spam findings: show what added up anyway.
    if !findings.iter().any(|f| f.rule == "spam.score") && !spam_hits.is_empty() {
        println!("  spam rules (under the threshold):");
        for f in spam_hits
            .iter()
            .filter(|f| f.score.is_some_and(|s| s != 0.0))
        {
            print_finding(f);
        }
    }
}

fn print_finding(f: &Finding) {
    // Scored findings show their points; graded ones (phishing, BEC, malware) their severity.
    let score = f
        .score
        .map(|s| format!("{s:>8.2}"))
        .unwrap_or_else(|| format!("{:>8}", f.severity.as_str()));
    let place = match (f.field.as_str(), f.range) {
        ("message", None) => String::new(),
        (field, Some((a, b))) => format!(" [{field} {a}..{b}]"),
        (field, None) => format!(" [{field}]"),
    };
    println!("  {score}  {:<32} {}{place}", f.rule, f.matched);
}

/// Runs `moat check`.
pub fn run(config: &Config, args: CheckArgs) -> anyhow::Result<()> {
    let files = message_files(&args.paths)?;
    anyhow::ensure!(!files.is_empty(), "no message files given");
    let store = open_store(config)?;
    let domains = block(store.all_domains())?;
    let model_path = config.spam_model_path();
    let model = model_path
        .exists()
        .then(|| spam::BayesModel::load(&model_path))
        .transpose()?;
    let spamassassin =
        moat_core::detect::sa::load_configured(config).context("loading SpamAssassin's rules")?;
    let forced = match &args.customer {
        Some(name) => Some(setup(config, &store, &existing_customer(&store, name)?.id)?),
        None => None,
    };
    let mut judge = Judge {
        config,
        store,
        domains,
        model,
        spamassassin,
        forced,
        customers: BTreeMap::new(),
    };
    let many = files.len() > 1;
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    let mut failed = 0usize;
    for file in &files {
        match judge.check(file) {
            Ok((verdict, report, spam_hits)) => {
                let key = match (verdict.action, verdict.threat_type()) {
                    (Action::Deliver, _) | (_, None) => verdict.action.as_str().to_string(),
                    (a, Some(t)) => format!("{} ({})", a.as_str(), t.as_str()),
                };
                *counts.entry(key).or_default() += 1;
                if args.summary {
                    continue;
                }
                if args.human {
                    print_human(file, &verdict, &spam_hits);
                } else if many {
                    println!("{}", serde_json::to_string(&report)?);
                } else {
                    println!("{}", serde_json::to_string_pretty(&report)?);
                }
            }
            Err(e) if many => {
                failed += 1;
                eprintln!("moat: {}: {e:#}", file.display());
            }
            Err(e) => return Err(e),
        }
    }
    if args.summary {
        let total: usize = counts.values().sum();
        let caught: usize = counts
            .iter()
            .filter(|(k, _)| !k.starts_with("deliver"))
            .map(|(_, n)| n)
            .sum();
        println!(
            "{total} messages: {caught} quarantined or rejected ({:.1}%)",
            100.0 * caught as f64 / total.max(1) as f64
        );
        for (k, n) in &counts {
            println!("  {k}: {n}");
        }
        if failed > 0 {
            println!("  unreadable: {failed}");
        }
    }
    if judge.forced.is_none() && judge.customers.is_empty() {
        eprintln!("note: no customer matched (use --customer NAME); no policies applied");
    }
    Ok(())
}
