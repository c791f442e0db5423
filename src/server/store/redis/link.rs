//! [`Link`]: a connection to Redis, one server or a Redis Cluster, that
//! connects on first use and reconnects by itself. Both are driven by
//! redis-rs (its `ConnectionManager`, and its cluster client, which routes
//! each command to the node of its keys' slot and follows resharding); this
//! only lets the store hold either.

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::{ClusterClientBuilder, ClusterConfig};
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, Pipeline, ProtocolVersion, PushInfo, RedisFuture, RedisResult, Value};
use std::time::Duration;
use tokio::sync::mpsc::UnboundedSender;

/// Where the store's Redis is: one server, or a cluster's seed nodes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Target {
    /// `redis://HOST:PORT[/DB]`.
    Server(String),
    /// `redis+cluster://HOST:PORT[,HOST:PORT…]`: seed nodes, as
    /// `redis://` URLs.
    Cluster(Vec<String>),
}

impl Target {
    /// Reads a `--store` URL.
    pub(super) fn parse(url: &str) -> Result<Self, String> {
        let Some(nodes) = url.strip_prefix("redis+cluster://") else {
            return Ok(Self::Server(url.to_owned()));
        };
        let nodes: Vec<String> = nodes
            .split(',')
            .map(str::trim)
            .filter(|node| !node.is_empty())
            .map(|node| format!("redis://{node}"))
            .collect();
        if nodes.is_empty() {
            return Err(
                "name at least one node: redis+cluster://HOST:PORT[,HOST:PORT…]".to_owned(),
            );
        }
        Ok(Self::Cluster(nodes))
    }

    /// Whether this is a cluster.
    pub(super) fn is_cluster(&self) -> bool {
        matches!(self, Self::Cluster(_))
    }
}

/// A connection to one Redis or to a cluster.
#[derive(Clone)]
pub(super) enum Link {
    /// One server.
    Server(ConnectionManager),
    /// A Redis Cluster.
    Cluster(ClusterConnection),
}

impl Link {
    /// A link to `target` whose every wait is bounded by `timeout`; with
    /// `pushes`, a RESP3 link whose pub/sub messages go there and whose
    /// subscriptions are renewed after a reconnect. Connects on first use.
    pub(super) fn open(
        target: &Target,
        timeout: Duration,
        pushes: Option<UnboundedSender<PushInfo>>,
    ) -> RedisResult<Self> {
        match target {
            Target::Server(url) => {
                let info = redis::IntoConnectionInfo::into_connection_info(url.as_str())?;
                let info = match &pushes {
                    Some(_) => {
                        let resp3 = info
                            .redis_settings()
                            .clone()
                            .set_protocol(ProtocolVersion::RESP3);
                        info.set_redis_settings(resp3)
                    }
                    None => info,
                };
                let client = redis::Client::open(info)?;
                let mut config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(timeout))
                    .set_response_timeout(Some(timeout))
                    .set_number_of_retries(3)
                    .set_min_delay(Duration::from_millis(50))
                    .set_max_delay(Duration::from_secs(1));
                if let Some(pushes) = pushes {
                    config = config
                        .set_push_sender(pushes)
                        .set_automatic_resubscription();
                }
                Ok(Self::Server(ConnectionManager::new_lazy_with_config(
                    client, config,
                )?))
            }
            Target::Cluster(nodes) => {
                let mut builder = ClusterClientBuilder::new(nodes.clone())
                    .connection_timeout(timeout)
                    .response_timeout(timeout)
                    .retries(3);
                if let Some(pushes) = pushes {
                    builder = builder
                        .use_protocol(ProtocolVersion::RESP3)
                        .push_sender(pushes);
                }
                let client = builder.build()?;
                Ok(Self::Cluster(
                    client.get_pending_async_connection_with_config(ClusterConfig::new()),
                ))
            }
        }
    }

    /// Subscribes to `channel` (a RESP3 link opened with pushes).
    pub(super) async fn subscribe(&mut self, channel: &str) -> RedisResult<()> {
        match self {
            Self::Server(link) => link.subscribe(channel).await,
            Self::Cluster(link) => link.subscribe(channel).await,
        }
    }
}

impl ConnectionLike for Link {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Self::Server(link) => link.req_packed_command(cmd),
            Self::Cluster(link) => link.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Server(link) => link.req_packed_commands(pipeline, offset, count),
            Self::Cluster(link) => link.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Server(link) => link.get_db(),
            Self::Cluster(link) => link.get_db(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_one_server_or_a_clusters_seed_nodes() {
        assert_eq!(
            Target::parse("redis://h:1/2"),
            Ok(Target::Server("redis://h:1/2".to_owned()))
        );
        assert_eq!(
            Target::parse("redis+cluster://a:1, b:2,"),
            Ok(Target::Cluster(vec![
                "redis://a:1".to_owned(),
                "redis://b:2".to_owned()
            ]))
        );
        assert!(Target::parse("redis+cluster://").is_err());
    }
}
