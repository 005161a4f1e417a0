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
        options.MaxQueuePollingInterval ??= durable?["storageProvider"]?["maxQueuePollingInterval"]?.GetValue<string>() is { } interval
            ? TimeSpan.Parse(interval, System.Globalization.CultureInfo.InvariantCulture)
            : TimeSpan.FromSeconds(1);
        var storage = configuration["AzureWebJobsStorage"];
        if (!string.IsNullOrWhiteSpace(storage))
        {
            options.StorageConnectionString = storage;
        }

        return options;
    }

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
