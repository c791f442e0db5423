//! The process entry point: parse and validate the configuration, set up
//! logging and the runtime, serve until SIGINT/SIGTERM, and map the outcome
//! to an exit code (2 for a configuration the server cannot run with).

use super::app::{serve, ServeError};
use super::config::{Command, Config, LogFormat, StoreCommand, TokenArgs};
use super::process;
use super::store::{compact, figures, StoreLocation, FILE_NAME};
use clap::{CommandFactory, FromArgMatches};
use std::process::ExitCode;
use std::time::Duration;

/// How long exiting waits for the runtime's remaining tasks after `serve`.
const RUNTIME_EXIT_WAIT: Duration = Duration::from_millis(200);

/// Exit code for a configuration the server cannot run with.
const EXIT_BAD_CONFIG: u8 = 2;

/// Parses and validates the configuration, sets up logging, serves until
/// SIGINT/SIGTERM. Bad configuration prints one line and exits with code 2.
pub fn main() -> ExitCode {
    let parsed = Config::command()
        .try_get_matches()
        .and_then(|matches| Ok((Config::from_arg_matches(&matches)?, matches)));
    let (config, matches) = match parsed {
        Ok(parsed) => parsed,
        Err(error) => {
            use clap::error::ErrorKind;
            if matches!(
                error.kind(),
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion
            ) {
                let _ = error.print();
                return ExitCode::SUCCESS;
            }
            if error.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                // clap would print the help, whose first line is no error.
                return fail("`sse-hub store` needs a command: `stats [PATH]` or `compact [PATH]`");
            }
            let rendered = error.render().to_string();
            let first_line = rendered.lines().next().unwrap_or("invalid arguments");
            return fail(first_line.trim_start_matches("error: "));
        }
    };
    match &config.command {
        Some(Command::Token(args)) => return mint(args),
        Some(Command::Store(command)) => {
            let store_flag =
                matches.value_source("store") == Some(clap::parser::ValueSource::CommandLine);
            return look_after_store(command, &config.store, store_flag);
        }
        None => {}
    }
    let settings = match config.validate() {
        Ok(settings) => settings,
        Err(error) => return fail(&error.to_string()),
    };
    // memory-serve names every embedded file at start: quiet unless asked.
    let directives = format!("memory_serve=warn,{}", settings.log);
    let filter = match tracing_subscriber::EnvFilter::try_new(&directives) {
        Ok(filter) => filter,
        Err(error) => {
            return fail(&format!(
                "--log {:?} is not a valid filter: {error}",
                settings.log
            ))
        }
    };
    let lines = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // A log line that cannot be written is dropped: the subscriber's
        // own report of it (`eprintln!`) panics when stderr is a closed
        // pipe, and a panic on the shutdown path kept SIGTERM from
        // stopping the server.
        .log_internal_errors(false);
    match settings.log_format {
        LogFormat::Text => lines
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init(),
        // Fields at the top level of each object, beside `message`.
        LogFormat::Json => lines.json().flatten_event(true).init(),
    }
    process::use_one_arena();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => return fail(&format!("cannot start the async runtime: {error}")),
    };
    // The signal handlers are installed inside the runtime, before serving.
    let served = runtime.block_on(async { serve(settings, process::signal()).await });
    // Tasks still running (a file read on the blocking pool, say) do not hold
    // the exit up: `serve` already waited its grace period for them.
    runtime.shutdown_timeout(RUNTIME_EXIT_WAIT);
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(error @ (ServeError::Bind { .. } | ServeError::Site(_) | ServeError::Store(_))) => {
            fail(&error.to_string())
        }
        Err(error) => {
            eprintln!("sse-hub: {error}");
            ExitCode::FAILURE
        }
    }
}

/// `sse-hub token`: prints a token from the configured secret.
fn mint(args: &TokenArgs) -> ExitCode {
    let keys = match args.secret.keys() {
        Ok(Some(keys)) => keys,
        Ok(None) => {
            return fail(
                "no token secret configured: give --jwt-secret, --jwt-secret-file or SSE_HUB_JWT_SECRET, as the server has it",
            )
        }
        Err(error) => return fail(&error.to_string()),
    };
    let entries = |list: &str| -> Vec<String> {
        list.split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty() && *entry != "none")
            .map(str::to_owned)
            .collect()
    };
    if args.ttl < std::time::Duration::from_secs(1) {
        return fail("--ttl must be at least 1s: a token expires at a whole second");
    }
    let (publish, subscribe) = (entries(&args.publish), entries(&args.subscribe));
    if publish.is_empty() && subscribe.is_empty() {
        return fail("the token would grant nothing: give --publish and/or --subscribe patterns");
    }
    let publish: Vec<&str> = publish.iter().map(String::as_str).collect();
    let subscribe: Vec<&str> = subscribe.iter().map(String::as_str).collect();
    let minted = keys.mint(&publish, &subscribe, args.ttl, args.sub.as_deref());
    match minted {
        Ok(token) => {
            println!("{token}");
            ExitCode::SUCCESS
        }
        Err(error) => fail(&error.to_string()),
    }
}

/// `sse-hub store stats|compact [PATH]`: on `PATH`, or else the store the
/// server would use (`--store`, `SSE_HUB_STORE`, `data`), read as the
/// server reads it.
fn look_after_store(command: &StoreCommand, configured: &str, store_flag: bool) -> ExitCode {
    let (StoreCommand::Stats(given) | StoreCommand::Compact(given)) = command;
    let raw = match (&given.path, store_flag) {
        (Some(path), true) if path.trim() != configured.trim() => {
            return fail(&format!(
                "two stores given: --store {configured:?} and {path:?}; give one"
            ))
        }
        (Some(path), _) => path.as_str(),
        (None, _) => configured,
    };
    let dir = match StoreLocation::parse(raw) {
        Ok(StoreLocation::Disk(dir)) => dir,
        Ok(_) => {
            return fail(&format!(
                "{:?} is not a disk store: `sse-hub store` works on a store's directory",
                raw.trim()
            ))
        }
        Err(error) => return fail(&error.to_string()),
    };
    // redb panics on some damaged pages; the commands turn that into their
    // one-line error, so the default hook's report would only repeat it.
    std::panic::set_hook(Box::new(|_| {}));
    match command {
        StoreCommand::Stats(_) => match figures(&dir) {
            Ok(figures) => {
                println!("store: {}", dir.join(FILE_NAME).display());
                println!("streams: {}", figures.streams);
                println!("events: {}", figures.events);
                println!(
                    "bytes: {} in the file, {} of it stored data",
                    figures.file_bytes, figures.stored_bytes
                );
                ExitCode::SUCCESS
            }
            Err(error) => fail(&error.to_string()),
        },
        StoreCommand::Compact(_) => match compact(&dir) {
            Ok((before, after)) => {
                println!(
                    "compacted {}: {before} bytes before, {after} after",
                    dir.join(FILE_NAME).display()
                );
                ExitCode::SUCCESS
            }
            Err(error) => fail(&error.to_string()),
        },
    }
}

/// Prints a configuration problem and returns exit code 2.
fn fail(message: &str) -> ExitCode {
    eprintln!("sse-hub: {message}");
    ExitCode::from(EXIT_BAD_CONFIG)
}
