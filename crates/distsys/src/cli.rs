//! Argument definitions (clap). The names here are stable: scripts depend on them.

use clap::{Parser, Subcommand, ValueEnum};

/// distsys: distributed-systems design with correctness you can check.
#[derive(Debug, Parser)]
#[command(name = "distsys", version, about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Recommend a protocol, its configuration and its failure scenarios for a distributed_context.
    Advise {
        /// Context file (JSON or YAML), or `-` for standard input.
        #[arg(default_value = "-")]
        file: String,
        /// Output format.
        #[arg(long, value_enum, default_value_t = OutputFormat::Json)]
        format: OutputFormat,
    },
    /// Check a distributed_context and report every problem in it (exit 2 if any).
    Validate {
        /// Context file (JSON or YAML), or `-` for standard input.
        #[arg(default_value = "-")]
        file: String,
    },
    /// Print the JSON Schema of the input or of the advisor's output.
    Schema {
        /// Which schema.
        #[arg(value_enum)]
        which: SchemaKind,
    },
    /// Run a benchmark and print its figures.
    Bench {
        #[command(subcommand)]
        what: BenchTarget,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Json,
    Yaml,
    Text,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SchemaKind {
    Input,
    Output,
}

#[derive(Debug, Subcommand)]
pub enum BenchTarget {
    /// Advise latency over every built-in example and a spread of generated contexts.
    Advise {
        /// Answers to time per context.
        #[arg(long, default_value_t = 2000)]
        iterations: u32,
    },
}
