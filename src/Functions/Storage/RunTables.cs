using Azure.Data.Tables;
using Azure.Identity;
using Microsoft.Extensions.Options;

namespace AgentRuns.Functions.Storage;

/// <summary>The table clients of the service, built once from <see cref="RunStorageOptions"/>.</summary>
public sealed class RunTables
{
    /// <param name="clientOptions">Client options registered in DI, if any (the local host counts storage requests with
    /// them); the SDK's defaults otherwise.</param>
    public RunTables(IOptions<RunStorageOptions> options, TableClientOptions? clientOptions = null)
        : this(CreateService(options.Value, clientOptions), options.Value)
    {
    }

    /// <summary>Tables on a given service client (the key tool signs in as the operator, not as the app).</summary>
    public RunTables(TableServiceClient service, RunStorageOptions o)
    {
        Service = service;
        Runs = service.GetTableClient(o.RunsTable);
        Events = service.GetTableClient(o.EventsTable);
        Idempotency = service.GetTableClient(o.IdempotencyTable);
        ApiKeys = service.GetTableClient(o.ApiKeysTable);
    }

    public TableServiceClient Service { get; }

    private static TableServiceClient CreateService(RunStorageOptions o, TableClientOptions? clientOptions) => !string.IsNullOrWhiteSpace(o.ConnectionString)
        ? new TableServiceClient(o.ConnectionString, clientOptions)
        : new TableServiceClient(
            o.TableServiceUri ?? throw new InvalidOperationException("RunStorage:TableServiceUri is not set."),
            new ManagedIdentityCredential(ManagedIdentityId.FromUserAssignedClientId(
                o.ClientId ?? throw new InvalidOperationException("RunStorage:ClientId is not set."))),
            clientOptions);

    public TableClient Runs { get; }

    public TableClient Events { get; }

    public TableClient Idempotency { get; }

    public TableClient ApiKeys { get; }

    public async Task EnsureCreatedAsync(CancellationToken cancellationToken = default)
    {
        foreach (var table in new[] { Runs, Events, Idempotency, ApiKeys })
        {
            await table.CreateIfNotExistsAsync(cancellationToken);
        }
    }
}
