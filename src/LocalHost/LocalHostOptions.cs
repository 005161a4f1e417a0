using System.Text.Json;
using System.Text.Json.Nodes;

namespace AgentRuns.LocalHost;

/// <summary>
/// The local host's settings: section <c>LocalHost</c> (appsettings.json, environment <c>LocalHost__…</c>), the Durable
/// storage connection <c>AzureWebJobsStorage</c>, and the task hub settings of the repository's host.json.
/// </summary>
public sealed class LocalHostOptions
{
    public const string SectionName = "LocalHost";

    /// <summary>The API's HTTP/1.1 port on 127.0.0.1.</summary>
    public int HttpPort { get; set; } = 7071;

    /// <summary>The Durable Task sidecar's HTTP/2 (gRPC) port on 127.0.0.1.</summary>
    public int GrpcPort { get; set; } = 7072;

    /// <summary>
    /// Owner name of the task hub's partition leases. Keep it stable: a restarted host with the same id takes its leases
    /// back at once, even after a crash; with a new id it waits for them to expire (up to 30 s).
    /// </summary>
    public string WorkerId { get; set; } = "localhost";

    /// <summary>Overrides host.json's <c>extensions.durableTask.hubName</c> (tests use a fresh hub each).</summary>
    public string? HubName { get; set; }

    /// <summary>Overrides host.json's <c>extensions.durableTask.storageProvider.maxQueuePollingInterval</c>.</summary>
    public TimeSpan? MaxQueuePollingInterval { get; set; }

    /// <summary>
    /// Overrides host.json's <c>controlQueueVisibilityTimeout</c>: how long an orchestration message dequeued by a process that
    /// died stays invisible before another picks it up.
    /// </summary>
    public TimeSpan? ControlQueueVisibilityTimeout { get; set; }

    /// <summary>
    /// Overrides host.json's <c>workItemQueueVisibilityTimeout</c>: the same for activity messages. The local host's Durable
    /// sidecar does not renew a running activity's visibility, so keep this above the longest activity (it would run twice).
    /// </summary>
    public TimeSpan? WorkItemQueueVisibilityTimeout { get; set; }

    /// <summary>
    /// Counts the storage requests of the app's tables and of the Durable backend, served at
    /// <c>GET /_localhost/storage-requests</c> (reset with POST). For the benchmarks; off by default.
    /// </summary>
    public bool CountStorageRequests { get; set; }

    /// <summary>The Durable storage connection string (<c>AzureWebJobsStorage</c>, as in the Functions app).</summary>
    public string StorageConnectionString { get; set; } = "UseDevelopmentStorage=true";

    public static LocalHostOptions From(IConfiguration configuration, string hostJsonPath)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var options = new LocalHostOptions();
        configuration.GetSection(SectionName).Bind(options);
        var durable = ReadDurableSection(hostJsonPath);
        options.HubName ??= durable?["hubName"]?.GetValue<string>() ?? "AgentRuns";
        options.MaxQueuePollingInterval ??= StorageProviderTime(durable, "maxQueuePollingInterval") ?? TimeSpan.FromSeconds(1);
        options.ControlQueueVisibilityTimeout ??= StorageProviderTime(durable, "controlQueueVisibilityTimeout") ?? TimeSpan.FromMinutes(5);
        options.WorkItemQueueVisibilityTimeout ??= StorageProviderTime(durable, "workItemQueueVisibilityTimeout") ?? TimeSpan.FromMinutes(5);
        var storage = configuration["AzureWebJobsStorage"];
        if (!string.IsNullOrWhiteSpace(storage))
        {
            options.StorageConnectionString = storage;
        }

        return options;
    }

    private static TimeSpan? StorageProviderTime(JsonNode? durable, string name) =>
        durable?["storageProvider"]?[name]?.GetValue<string>() is { } value
            ? TimeSpan.Parse(value, System.Globalization.CultureInfo.InvariantCulture)
            : null;

    private static JsonNode? ReadDurableSection(string hostJsonPath)
    {
        if (!File.Exists(hostJsonPath))
        {
            return null;
        }

        var hostJson = JsonNode.Parse(
            File.ReadAllText(hostJsonPath),
            documentOptions: new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        return hostJson?["extensions"]?["durableTask"];
    }
}
