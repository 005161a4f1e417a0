using System.Net;
using Azure;
using Azure.Data.Tables;

namespace AgentRuns.Functions.Storage;

/// <summary>A tenant's HTTP worker as stored, its signing secret included (the API shows the secret once).</summary>
/// <param name="CreatedBy">The create that made it (its <see cref="Runs.IdempotencySeed.Id"/>; null without a key): a retry of that create finds
/// it again instead of being told the name is taken.</param>
public sealed record WorkerRegistration(string TenantId, string Name, string Url, string Secret, DateTimeOffset CreatedAt, string? CreatedBy = null);

/// <summary>
/// The Workers table: one partition per tenant, RowKey the worker's name, and the tenant's count of workers beside them
/// (<see cref="CountedRows"/>). Every read names the tenant, so another tenant's worker is never found.
/// </summary>
public sealed class WorkerStore(RunTables tables)
{
    private readonly TableClient _table = tables.Workers;
    private readonly CountedRows _rows = new(tables.Workers);

    /// <summary>Adds a worker unless the tenant has one with its name or already has <paramref name="limit"/>: then nothing is written.</summary>
    public Task<CountedAdd> AddAsync(WorkerRegistration worker, int limit, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(worker);
        return _rows.AddAsync(
            new TableEntity(worker.TenantId, worker.Name)
            {
                ["Url"] = worker.Url,
                ["Secret"] = worker.Secret,
                ["CreatedAt"] = worker.CreatedAt,
                ["CreatedBy"] = worker.CreatedBy,
            },
            limit,
            cancellationToken);
    }

    public async Task<WorkerRegistration?> GetAsync(string tenantId, string name, CancellationToken cancellationToken = default)
    {
        if (name == CountedRows.CountKey)
        {
            return null;
        }

        var response = await _table.GetEntityIfExistsAsync<TableEntity>(tenantId, name, cancellationToken: cancellationToken);
        return response.HasValue ? ToWorker(response.Value!) : null;
    }

    /// <summary>The tenant's workers, by name.</summary>
    public async Task<IReadOnlyList<WorkerRegistration>> ListAsync(string tenantId, CancellationToken cancellationToken = default)
    {
        var result = new List<WorkerRegistration>();
        await foreach (var entity in _table.QueryAsync<TableEntity>(TableClient.CreateQueryFilter($"PartitionKey eq {tenantId}"), cancellationToken: cancellationToken))
        {
            if (CountedRows.IsCounted(entity))
            {
                result.Add(ToWorker(entity));
            }
        }

        return [.. result.OrderBy(w => w.Name, StringComparer.Ordinal)];
    }

    /// <summary>Deletes a worker. False when the tenant has none with that name.</summary>
    public Task<bool> DeleteAsync(string tenantId, string name, CancellationToken cancellationToken = default) =>
        _rows.DeleteAsync(tenantId, name, cancellationToken);

    private static WorkerRegistration ToWorker(TableEntity e) => new(
        e.PartitionKey,
        e.RowKey,
        e.GetString("Url"),
        e.GetString("Secret"),
        e.GetDateTimeOffset("CreatedAt") ?? DateTimeOffset.MinValue,
        e.GetString("CreatedBy"));
}
