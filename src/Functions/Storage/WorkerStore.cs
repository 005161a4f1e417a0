using System.Net;
using Azure;
using Azure.Data.Tables;

namespace AgentRuns.Functions.Storage;

/// <summary>A tenant's HTTP worker as stored, its signing secret included (the API shows the secret once).</summary>
/// <param name="CreatedBy">The idempotency seed of the create that made it (null without a key): a retry of that create finds
/// it again instead of being told the name is taken.</param>
public sealed record WorkerRegistration(string TenantId, string Name, string Url, string Secret, DateTimeOffset CreatedAt, string? CreatedBy = null);

/// <summary>
/// The Workers table: one partition per tenant, RowKey the worker's name. Every read names the tenant, so another tenant's
/// worker is never found.
/// </summary>
public sealed class WorkerStore(RunTables tables)
{
    private readonly TableClient _table = tables.Workers;

    /// <summary>Adds a worker. False when the tenant has one with its name: nothing is written.</summary>
    public async Task<bool> AddAsync(WorkerRegistration worker, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(worker);
        try
        {
            await _table.AddEntityAsync(
                new TableEntity(worker.TenantId, worker.Name)
                {
                    ["Url"] = worker.Url,
                    ["Secret"] = worker.Secret,
                    ["CreatedAt"] = worker.CreatedAt,
                    ["CreatedBy"] = worker.CreatedBy,
                },
                cancellationToken);
            return true;
        }
        catch (RequestFailedException ex) when (ex.Status == (int)HttpStatusCode.Conflict)
        {
            return false;
        }
    }

    public async Task<WorkerRegistration?> GetAsync(string tenantId, string name, CancellationToken cancellationToken = default)
    {
        var response = await _table.GetEntityIfExistsAsync<TableEntity>(tenantId, name, cancellationToken: cancellationToken);
        return response.HasValue ? ToWorker(response.Value!) : null;
    }

    /// <summary>The tenant's workers, by name.</summary>
    public async Task<IReadOnlyList<WorkerRegistration>> ListAsync(string tenantId, CancellationToken cancellationToken = default)
    {
        var result = new List<WorkerRegistration>();
        await foreach (var entity in _table.QueryAsync<TableEntity>(TableClient.CreateQueryFilter($"PartitionKey eq {tenantId}"), cancellationToken: cancellationToken))
        {
            result.Add(ToWorker(entity));
        }

        return [.. result.OrderBy(w => w.Name, StringComparer.Ordinal)];
    }

    /// <summary>Deletes a worker. False when the tenant has none with that name.</summary>
    public async Task<bool> DeleteAsync(string tenantId, string name, CancellationToken cancellationToken = default)
    {
        // The SDK does not throw on 404 for a delete: the response says whether there was something to delete.
        var response = await _table.DeleteEntityAsync(tenantId, name, ETag.All, cancellationToken);
        return response.Status != (int)HttpStatusCode.NotFound;
    }

    private static WorkerRegistration ToWorker(TableEntity e) => new(
        e.PartitionKey,
        e.RowKey,
        e.GetString("Url"),
        e.GetString("Secret"),
        e.GetDateTimeOffset("CreatedAt") ?? DateTimeOffset.MinValue,
        e.GetString("CreatedBy"));
}
