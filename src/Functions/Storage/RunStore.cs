using System.Net;
using System.Text.Json;
using AgentRuns.Functions.Model;
using AgentRuns.Functions.Orchestrations;
using Azure;
using Azure.Data.Tables;

namespace AgentRuns.Functions.Storage;

/// <summary>
/// The Runs table. Every state change that can race is a read followed by one conditional (If-Match) write:
/// when two writers read the same ETag, exactly one write lands and the other re-reads and decides again.
/// </summary>
public sealed class RunStore(RunTables tables, TimeProvider time)
{
    private readonly TableClient _runs = tables.Runs;

    public Task CreateAsync(RunEntity run, CancellationToken cancellationToken = default) =>
        _runs.AddEntityAsync(run, cancellationToken);

    public async Task<RunEntity?> GetAsync(string tenantId, string runId, CancellationToken cancellationToken = default)
    {
        var response = await _runs.GetEntityIfExistsAsync<RunEntity>(tenantId, runId, cancellationToken: cancellationToken);
        return response.HasValue ? response.Value : null;
    }

    public Task DeleteAsync(string tenantId, string runId, CancellationToken cancellationToken = default) =>
        _runs.DeleteEntityAsync(tenantId, runId, ETag.All, cancellationToken);

    /// <summary>
    /// The tenant's runs, newest first (run ids sort newest first), after <paramref name="cursor"/>.
    /// </summary>
    public async Task<(IReadOnlyList<RunEntity> Runs, string? NextCursor)> ListAsync(
        string tenantId, string? status, string? cursor, int limit, CancellationToken cancellationToken = default)
    {
        var after = cursor ?? "";
        var filter = status is null
            ? TableClient.CreateQueryFilter($"PartitionKey eq {tenantId} and RowKey gt {after}")
            : TableClient.CreateQueryFilter($"PartitionKey eq {tenantId} and RowKey gt {after} and Status eq {status}");
        var page = new List<RunEntity>(limit + 1);
        await foreach (var run in _runs.QueryAsync<RunEntity>(filter, maxPerPage: Math.Min(limit + 1, 1000), cancellationToken: cancellationToken))
        {
            page.Add(run);
            if (page.Count > limit)
            {
                break;
            }
        }

        if (page.Count > limit)
        {
            page.RemoveAt(limit);
            return (page, page[^1].RowKey);
        }

        return (page, null);
    }

    /// <summary>Accepts a signal for the pending request, or says why not. Exactly one concurrent caller wins.</summary>
    /// <param name="loggedPayloadJson">The payload as the log may show it (secrets masked); the payload itself if null.</param>
    public async Task<SignalDecision> TryAcceptSignalAsync(
        string tenantId, string runId, string action, string? requestId, string? payloadJson,
        string? loggedPayloadJson = null, bool payloadRedacted = false, CancellationToken cancellationToken = default)
    {
        while (true)
        {
            var run = await GetAsync(tenantId, runId, cancellationToken);
            if (run is null)
            {
                return SignalDecision.NotFound;
            }

            if (run.Status != RunStatus.AwaitingInput || run.PendingRequestId is null || run.PendingInputJson is null || run.CancelRequested)
            {
                return SignalDecision.NotAwaitingInput;
            }

            if (requestId is not null && !string.Equals(requestId, run.PendingRequestId, StringComparison.Ordinal))
            {
                return SignalDecision.NotAwaitingInput;
            }

            var pending = JsonSerializer.Deserialize<PendingInput>(run.PendingInputJson, ApiJson.Options)!;
            if (!pending.AllowedActions.Contains(action))
            {
                return SignalDecision.ActionNotAllowed(pending.AllowedActions);
            }

            var now = time.GetUtcNow();
            var signal = new SignalEvent(run.PendingRequestId, action, payloadJson, now, loggedPayloadJson ?? payloadJson, payloadRedacted);
            run.Status = RunStatus.Running;
            run.AnsweredRequestId = run.PendingRequestId;
            run.AcceptedSignalJson = JsonSerializer.Serialize(signal, ApiJson.Options);
            run.PendingRequestId = null;
            run.PendingInputJson = null;
            run.UpdatedAt = now;
            if (await TryReplaceAsync(run, cancellationToken))
            {
                return SignalDecision.Accepted(signal);
            }
        }
    }

    /// <summary>Marks the run as cancel-requested, unless it has ended.</summary>
    public async Task<CancelDecision> RequestCancelAsync(string tenantId, string runId, CancellationToken cancellationToken = default)
    {
        while (true)
        {
            var run = await GetAsync(tenantId, runId, cancellationToken);
            if (run is null)
            {
                return CancelDecision.NotFound;
            }

            if (RunStatus.IsTerminal(run.Status))
            {
                return CancelDecision.NotCancellable;
            }

            if (run.CancelRequested)
            {
                return CancelDecision.Accepted;
            }

            run.CancelRequested = true;
            run.UpdatedAt = time.GetUtcNow();
            if (await TryReplaceAsync(run, cancellationToken))
            {
                return CancelDecision.Accepted;
            }
        }
    }

    /// <summary>
    /// Moves the run record to the state after event <paramref name="lastEventSeq"/>. Idempotent and monotonic:
    /// a record that already reflects that event (or a later one) is left alone.
    /// </summary>
    public async Task ApplyProjectionAsync(
        string tenantId, string runId, RunProjection projection, long lastEventSeq, CancellationToken cancellationToken = default)
    {
        while (true)
        {
            var run = await GetAsync(tenantId, runId, cancellationToken)
                ?? throw new InvalidOperationException($"Run {runId} has no record in the Runs table.");
            if (run.LastEventSeq >= lastEventSeq)
            {
                return;
            }

            run.Status = projection.Status;
            run.PendingRequestId = projection.PendingRequestId;
            run.PendingInputJson = projection.PendingInputJson;
            run.OutputJson = projection.OutputJson ?? run.OutputJson;
            run.ErrorJson = projection.ErrorJson ?? run.ErrorJson;
            if (projection.Status != RunStatus.AwaitingInput)
            {
                // The orchestration has recorded the answer by now: the raw payload need not stay in the record.
                run.AcceptedSignalJson = null;
            }

            run.LastEventSeq = lastEventSeq;
            run.UpdatedAt = time.GetUtcNow();
            if (await TryReplaceAsync(run, cancellationToken))
            {
                return;
            }
        }
    }

    /// <summary>The deadline of <paramref name="requestId"/> passed: cancel the run, unless a signal or a cancel won.</summary>
    public async Task<ExpireRequestResult> ExpireRequestAsync(
        string tenantId, string runId, string requestId, CancellationToken cancellationToken = default)
    {
        while (true)
        {
            var run = await GetAsync(tenantId, runId, cancellationToken)
                ?? throw new InvalidOperationException($"Run {runId} has no record in the Runs table.");

            if (string.Equals(run.AnsweredRequestId, requestId, StringComparison.Ordinal))
            {
                var signal = run.AcceptedSignalJson is null
                    ? null
                    : JsonSerializer.Deserialize<SignalEvent>(run.AcceptedSignalJson, ApiJson.Options);
                return new ExpireRequestResult(ExpireOutcome.Answered, signal);
            }

            if (run.CancelRequested)
            {
                return new ExpireRequestResult(ExpireOutcome.CancelRequested, null);
            }

            if (run.Status == RunStatus.Cancelled)
            {
                // A retry of this activity after its own write landed.
                return new ExpireRequestResult(ExpireOutcome.Expired, null);
            }

            if (run.Status != RunStatus.AwaitingInput || !string.Equals(run.PendingRequestId, requestId, StringComparison.Ordinal))
            {
                throw new InvalidOperationException($"Run {runId} is {run.Status}, not waiting on request {requestId}.");
            }

            run.Status = RunStatus.Cancelled;
            run.PendingRequestId = null;
            run.PendingInputJson = null;
            run.ErrorJson = ApiJson.Serialize(new RunError(RunReasonCodes.SignalTimeout, "No signal arrived before the request expired."));
            run.UpdatedAt = time.GetUtcNow();
            if (await TryReplaceAsync(run, cancellationToken))
            {
                return new ExpireRequestResult(ExpireOutcome.Expired, null);
            }
        }
    }

    /// <summary>Moves the run to a terminal status; false when a cancel was requested first.</summary>
    public async Task<bool> ClaimCompletionAsync(ClaimCompletionInput claim, CancellationToken cancellationToken = default)
    {
        while (true)
        {
            var run = await GetAsync(claim.TenantId, claim.RunId, cancellationToken)
                ?? throw new InvalidOperationException($"Run {claim.RunId} has no record in the Runs table.");
            if (run.Status == claim.Status)
            {
                return true;
            }

            if (run.CancelRequested)
            {
                return false;
            }

            run.Status = claim.Status;
            run.PendingRequestId = null;
            run.PendingInputJson = null;
            run.OutputJson = claim.OutputJson;
            run.ErrorJson = claim.ErrorJson;
            run.UpdatedAt = time.GetUtcNow();
            if (await TryReplaceAsync(run, cancellationToken))
            {
                return true;
            }
        }
    }

    private async Task<bool> TryReplaceAsync(RunEntity run, CancellationToken cancellationToken)
    {
        try
        {
            await _runs.UpdateEntityAsync(run, run.ETag, TableUpdateMode.Replace, cancellationToken);
            return true;
        }
        catch (RequestFailedException ex) when (ex.Status == (int)HttpStatusCode.PreconditionFailed)
        {
            return false;
        }
    }
}

/// <summary>What became of a signal.</summary>
public sealed record SignalDecision(SignalOutcome Outcome, SignalEvent? Signal = null, IReadOnlyList<string>? AllowedActions = null)
{
    public static readonly SignalDecision NotFound = new(SignalOutcome.NotFound);
    public static readonly SignalDecision NotAwaitingInput = new(SignalOutcome.NotAwaitingInput);

    public static SignalDecision Accepted(SignalEvent signal) => new(SignalOutcome.Accepted, signal);

    public static SignalDecision ActionNotAllowed(IReadOnlyList<string> allowed) => new(SignalOutcome.ActionNotAllowed, AllowedActions: allowed);
}

public enum SignalOutcome
{
    Accepted,
    NotFound,
    NotAwaitingInput,
    ActionNotAllowed,
}

public enum CancelDecision
{
    Accepted,
    NotFound,
    NotCancellable,
}
