using Azure.Core;
using Azure.Data.Tables;
using Azure.Identity;
using Microsoft.Extensions.Options;

namespace AgentRuns.Functions.Storage;

/// <summary>The table clients of the service, built once from <see cref="RunStorageOptions"/>.</summary>
public sealed class RunTables
{
    /// <param name="clientOptions">Client options registered in DI, if any (the local host counts storage requests with
    /// them); the SDK's defaults otherwise. Either way the retry settings come from <see cref="RunStorageOptions"/>.</param>
    public RunTables(IOptions<RunStorageOptions> options, TableClientOptions? clientOptions = null)
        : this(CreateService(options.Value, clientOptions ?? new TableClientOptions()), options.Value)
    {
    }

    /// <summary>Tables on a given service client (the key tool signs in as the operator, not as the app).</summary>
    public RunTables(TableServiceClient service, RunStorageOptions o)
    {
        ArgumentNullException.ThrowIfNull(service);
        ArgumentNullException.ThrowIfNull(o);
        Service = service;
        Runs = service.GetTableClient(o.RunsTable);
        OpenRuns = service.GetTableClient(o.OpenRunsTable);
        Idempotency = service.GetTableClient(o.IdempotencyTable);
        ApiKeys = service.GetTableClient(o.ApiKeysTable);
        Webhooks = service.GetTableClient(o.WebhooksTable);
        WebhookOutbox = service.GetTableClient(o.WebhookOutboxTable);
        WebhookAttempts = service.GetTableClient(o.WebhookAttemptsTable);
        ModelTurns = service.GetTableClient(o.ModelTurnsTable);
        EmailOutbox = service.GetTableClient(o.EmailOutboxTable);
        Workers = service.GetTableClient(o.WorkersTable);
        WorkerSteps = service.GetTableClient(o.WorkerStepsTable);
    }

    public TableServiceClient Service { get; }

    public TableClient Runs { get; }

    public TableClient OpenRuns { get; }

    public TableClient Idempotency { get; }

    public TableClient ApiKeys { get; }

    /// <summary>Webhook subscriptions (<see cref="WebhookSubscriptionStore"/>).</summary>
    public TableClient Webhooks { get; }

    /// <summary>Webhook deliveries not done yet (<see cref="WebhookOutboxIndex"/>).</summary>
    public TableClient WebhookOutbox { get; }

    /// <summary>Webhook delivery attempts (<see cref="WebhookAttemptLog"/>).</summary>
    public TableClient WebhookAttempts { get; }


    public TableClient ModelTurns { get; }

    public TableClient EmailOutbox { get; }

    /// <summary>HTTP workers (<see cref="WorkerStore"/>).</summary>
    public TableClient Workers { get; }

    /// <summary>The decisions of HTTP workers' steps (<see cref="WorkerStepStore"/>).</summary>
    public TableClient WorkerSteps { get; }

    public IEnumerable<TableClient> All =>
        [Runs, OpenRuns, Idempotency, ApiKeys, Webhooks, WebhookOutbox, WebhookAttempts, ModelTurns, EmailOutbox, Workers, WorkerSteps];

    public async Task EnsureCreatedAsync(CancellationToken cancellationToken = default)
    {
        foreach (var table in All)
        {
            await table.CreateIfNotExistsAsync(cancellationToken);
        }
    }

    private static TableServiceClient CreateService(RunStorageOptions o, TableClientOptions clientOptions)
    {
        clientOptions.Retry.Mode = RetryMode.Exponential;
        clientOptions.Retry.MaxRetries = o.MaxRetries;
        clientOptions.Retry.Delay = TimeSpan.FromMilliseconds(400);
        clientOptions.Retry.MaxDelay = TimeSpan.FromSeconds(2);
        clientOptions.Retry.NetworkTimeout = TimeSpan.FromSeconds(o.NetworkTimeoutSeconds);
        return !string.IsNullOrWhiteSpace(o.ConnectionString)
            ? new TableServiceClient(o.ConnectionString, clientOptions)
            : new TableServiceClient(
                o.TableServiceUri ?? throw new InvalidOperationException("RunStorage:TableServiceUri is not set."),
                new ManagedIdentityCredential(ManagedIdentityId.FromUserAssignedClientId(
                    o.ClientId ?? throw new InvalidOperationException("RunStorage:ClientId is not set."))),
                clientOptions);
    }
}
