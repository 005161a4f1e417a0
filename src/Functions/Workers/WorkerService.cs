using AgentRuns.Functions.Model;
using AgentRuns.Functions.Runs;
using AgentRuns.Functions.Storage;
using AgentRuns.Functions.Webhooks;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace AgentRuns.Functions.Workers;

/// <summary>A registration whose shape the HTTP layer has checked (its URL is checked here: that takes DNS).</summary>
public sealed record CreateWorkerRequest(string Name, string Url);

/// <summary>
/// What the API does with HTTP workers: every read and write is scoped by the caller's tenant, so another tenant's worker answers
/// exactly as a missing one (404 worker_not_found) and cannot be named by a run (400 agent_not_available).
/// </summary>
public sealed partial class WorkerService(
    WorkerStore store, WebhookUrlPolicy policy, IOptions<WorkerOptions> options, TimeProvider time, ILogger<WorkerService> logger)
{
    /// <param name="seed">Set for a request with an idempotency key: a retry that takes over from an attempt that died finds
    /// the worker that attempt registered (and its secret) instead of being told the name is taken.</param>
    public async Task<CreatedWorkerResource> CreateAsync(Caller caller, CreateWorkerRequest request, IdempotencySeed? seed, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        ArgumentNullException.ThrowIfNull(request);
        var (url, refusal) = await policy.CheckAsync(request.Url, cancellationToken);
        if (url is null)
        {
            throw ApiException.InvalidWorkerUrl(refusal!);
        }

        if (await store.GetAsync(caller.TenantId, request.Name, cancellationToken) is { } existing)
        {
            return Again(existing, seed) ?? throw ApiException.WorkerExists(request.Name);
        }

        var worker = new WorkerRegistration(
            caller.TenantId, request.Name, request.Url, WebhookIds.NewSecret(), seed?.CreatedAt ?? time.GetUtcNow(), seed?.Id);

        // From here the client going away changes nothing: the worker is registered, and a retry with the key finds it.
        var max = options.Value.MaxPerTenant;
        for (var attempt = 1; ; attempt++)
        {
            var added = await store.AddAsync(worker, max, CancellationToken.None);
            if (added == CountedAdd.LimitReached)
            {
                throw ApiException.InvalidRequest($"A tenant has at most {max} workers; delete one first.");
            }

            if (added == CountedAdd.Added)
            {
                break;
            }

            if (await store.GetAsync(caller.TenantId, request.Name, CancellationToken.None) is { } raced)
            {
                return Ours(raced, worker) ?? Again(raced, seed) ?? throw ApiException.WorkerExists(request.Name);
            }

            // Another request's worker of that name was deleted between the two: the name is free again, try once more.
            if (attempt >= 8)
            {
                throw ApiException.WorkerExists(request.Name); // the name is being created and deleted in a loop: say it is taken
            }
        }

        LogRegistered(logger, request.Name, caller.TenantId);
        return WorkerMapper.ToCreated(worker);
    }

    public async Task<WorkerList> ListAsync(Caller caller, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        return new WorkerList("list", [.. (await store.ListAsync(caller.TenantId, cancellationToken)).Select(WorkerMapper.ToResource)]);
    }

    public async Task<WorkerResource> GetAsync(Caller caller, string name, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        return WorkerMapper.ToResource(await store.GetAsync(caller.TenantId, name, cancellationToken) ?? throw ApiException.WorkerNotFound(name));
    }

    /// <summary>Deletes the worker: runs that use it fail at their next step (<c>agent_error</c>); new runs cannot name it.</summary>
    public async Task DeleteAsync(Caller caller, string name, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        if (!await store.DeleteAsync(caller.TenantId, name, cancellationToken))
        {
            throw ApiException.WorkerNotFound(name);
        }

        LogDeleted(logger, name, caller.TenantId);
    }

    /// <summary>The answer to a create that this request (by its idempotency key) already made; null when someone else made it.</summary>
    private static CreatedWorkerResource? Again(WorkerRegistration worker, IdempotencySeed? seed) =>
        seed is not null && string.Equals(worker.CreatedBy, seed.Id, StringComparison.Ordinal) ? WorkerMapper.ToCreated(worker) : null;

    /// <summary>The worker found under the name is the one this request wrote (a retry whose first try landed): same secret.</summary>
    private static CreatedWorkerResource? Ours(WorkerRegistration found, WorkerRegistration written) =>
        string.Equals(found.Secret, written.Secret, StringComparison.Ordinal) ? WorkerMapper.ToCreated(found) : null;

    [LoggerMessage(Level = LogLevel.Information, Message = "Worker {WorkerName} registered for tenant {TenantId}")]
    private static partial void LogRegistered(ILogger logger, string workerName, string tenantId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Worker {WorkerName} deleted for tenant {TenantId}")]
    private static partial void LogDeleted(ILogger logger, string workerName, string tenantId);
}
