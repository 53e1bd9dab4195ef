//! `moat spam`: train or inspect the statistical spam model, and list SpamAssassin's rules.

use std::path::PathBuf;

use anyhow::Context;
use clap::Subcommand;
use moat_core::config::Config;

#[derive(Subcommand)]
pub enum SpamCmd {
    /// Learn labelled mail (directories of message files, maildirs or mbox files) and write
    /// the model the scanner loads (policy.spam_model); running scanners pick it up within
    /// policy.reload_interval_ms.
    Train {
        /// Spam: a directory or mbox file (repeatable).
        #[arg(long, required = true)]
        spam: Vec<PathBuf>,
        /// Ham (wanted mail): a directory or mbox file (repeatable).
        #[arg(long, required = true)]
        ham: Vec<PathBuf>,
        /// Add to the existing model instead of starting a new one.
        #[arg(long)]
        add: bool,
    },
    /// Print what the current model was trained on.
    Status,
    /// Load (and on first use compile) SpamAssassin's rules as the scanner will, and print
    /// what was loaded; `--list` prints every active rule with its score and how it runs.
    Rules {
        #[arg(long)]
        list: bool,
    },
}

/// `moat spam train|status`.
pub fn run(config: &Config, cmd: SpamCmd) -> anyhow::Result<()> {
    use moat_core::detect::spam::{BayesModel, Trainer, corpus};
    let path = config.spam_model_path();
    match cmd {
        SpamCmd::Train { spam, ham, add } => {
            let mut trainer = if add && path.exists() {
                Trainer::from_model(&BayesModel::load(&path)?)
            } else {
                Trainer::new()
            };
            for (paths, is_spam) in [(&spam, true), (&ham, false)] {
                for p in paths {
                    let n = corpus::learn_path(&mut trainer, p, is_spam)
                        .with_context(|| format!("reading {}", p.display()))?;
                    println!(
                        "learnt {n} {} messages from {}",
                        if is_spam { "spam" } else { "ham" },
                        p.display()
                    );
                }
            }
            let model = trainer.build();
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            model.save(&path)?;
            let (s, h) = model.trained();
            println!(
                "model written to {}: {s} spam, {h} ham, {} tokens{}",
                path.display(),
                model.token_count(),
                if model.is_usable() {
                    ""
                } else {
                    " (too little mail of one class to be used yet)"
                }
            );
        }
        SpamCmd::Rules { list } => {
            let started = std::time::Instant::now();
            match moat_core::detect::sa::load_configured(config)? {
                None => println!("SpamAssassin rules: not loaded (disabled or not installed)"),
                Some(engine) => {
                    println!(
                        "SpamAssassin rules: {} ({} files, {} in {:.1} s)",
                        engine.report,
                        engine.report.files,
                        if engine.report.from_cache {
                            "loaded from the cache"
                        } else {
                            "compiled"
                        },
                        started.elapsed().as_secs_f64()
                    );
                    if list {
                        for r in engine.rules() {
                            println!(
                                "{:<32} {:>7.3} {:?} {}",
                                r.name,
                                moat_core::detect::spam::weights::shipped()
                                    .sa_score(&r.name, r.score),
                                r.tier,
                                r.describe.as_deref().unwrap_or("")
                            );
                        }
                    }
                }
            }
        }
        SpamCmd::Status => {
            if !path.exists() {
                println!(
                    "no spam model at {}: spam is scored by the rules alone",
                    path.display()
                );
            } else {
                let model = BayesModel::load(&path)?;
                let (s, h) = model.trained();
                println!(
                    "{}: {s} spam, {h} ham, {} tokens, {}",
                    path.display(),
                    model.token_count(),
                    if model.is_usable() {
                        "in use"
                    } else {
                        "not used yet (needs 50 of each class)"
                    }
                );
            }
        }
    }
    Ok(())
}
