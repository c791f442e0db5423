//! `sse-loadgen`: opens many Server-Sent Events connections against sse-hub
//! (or its Express reference) and reports connections, delivery latency,
//! per-tick consistency, gaps and the server's memory; or publishes events
//! while such connections listen, and reports how fast they are acknowledged
//! and delivered.
//!
//! Raw TCP with a minimal HTTP/1.1 and SSE parser keeps each connection to a
//! task, a socket and one small read buffer, so that one process can hold
//! the ~19,500 connections the server's file limit allows. See `--help`.

mod check;
mod churn;
mod cli;
mod conn;
mod cpu;
mod event;
mod hold;
mod http;
mod metrics;
mod procfs;
mod publish;
mod sse;
mod target;

use anyhow::{Context, Result};
use clap::Parser;
use cli::{Cli, Command};
use serde::Serialize;
use std::io::Write;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("sse-loadgen: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Builds the runtime and runs the chosen mode.
fn run(cli: Cli) -> Result<()> {
    let threads = if cli.threads == 0 {
        std::thread::available_parallelism().map_or(1, usize::from)
    } else {
        cli.threads
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        match cli.command {
            Command::Hold(args) => {
                let report = hold::run(args, threads).await?;
                emit(&hold::human(&report), &report)
            }
            Command::Churn(args) => {
                let report = churn::run(args).await?;
                emit(&churn::human(&report), &report)
            }
            Command::Publish(args) => {
                let report = publish::run(args).await?;
                emit(&publish::human(&report), &report)
            }
        }
    })
}

/// Prints the human line, then the JSON line, on stdout.
fn emit(human: &str, report: &impl Serialize) -> Result<()> {
    let json = serde_json::to_string(report).context("cannot serialise the report")?;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{human}")?;
    writeln!(stdout, "{json}")?;
    stdout.flush()?;
    Ok(())
}
