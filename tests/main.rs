//! The one integration-test binary: every test that runs `fleetup` as a user would, against
//! real inventories, a real `ansible-inventory`, and a lab of real OpenSSH servers.

mod support;

mod bastion;
mod cells;
mod cells_server;
mod cli;
mod cli_docs;
mod compress;
mod config;
mod conformance;
mod docs;
mod faults_kill;
mod faults_net;
mod fleet;
mod fleet_service;
mod help;
mod hints;
mod hostile_input;
mod hostile_release;
mod lab;
mod progress_tty;
mod release_fetch;
mod release_publish;
mod releases_cli;
mod report_html;
mod report_output;
mod rolling;
mod ssh_transport;
mod steps_local;
