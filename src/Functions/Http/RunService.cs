using System.Net;
using AgentRuns.Functions.Model;
using AgentRuns.Functions.Orchestrations;
using AgentRuns.Functions.Security;
using AgentRuns.Functions.Storage;
using Azure;
using Microsoft.DurableTask;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace AgentRuns.Functions.Http;

/// <summary>
/// What the HTTP API does with runs. It talks to the tables and to the Durable client only: the run's logic lives in
/// <see cref="RunOrchestration"/>.
/// </summary>
public sealed partial class RunService(
    RunStore runs, EventLog events, PayloadRedactor redactor, IOptions<RunOptions> options, TimeProvider time, ILogger<RunService> logger)
{
    /// <param name="seed">Set for a request with an idempotency key: the run id derives from it, so a retry that takes
    /// over from an attempt that died finds that attempt's run instead of making a second one.</param>
    public async Task<RunResource> CreateAsync(
        TenantContext tenant, CreateRunRequest request, DurableTaskClient durable, IdempotencySeed? seed, CancellationToken cancellationToken)
    {
        var now = seed?.CreatedAt ?? time.GetUtcNow();
        var run = new RunEntity
        {
            PartitionKey = tenant.TenantId,
            RowKey = seed is null ? RunIds.New(now) : RunIds.FromSeed(seed.CreatedAt, seed.Key),
            Status = RunStatus.Queued,
            CreatedAt = now,
            UpdatedAt = now,
            InputJson = request.InputJson,
            MetadataJson = request.MetadataJson,
            SignalTimeoutSeconds = request.SignalTimeoutSeconds ?? options.Value.DefaultSignalTimeoutSeconds,
        };
        try
        {
            await runs.CreateAsync(run, cancellationToken);
        }
        catch (RequestFailedException ex) when (seed is not null && ex.Status == (int)HttpStatusCode.Conflict)
        {
            // An earlier attempt of this very request created the run, then died: finish its work, make nothing new.
            run = await runs.GetAsync(tenant.TenantId, run.RowKey, cancellationToken) ?? throw new InvalidOperationException("A run id collided.", ex);
            if (await durable.GetInstanceAsync(run.RowKey, getInputsAndOutputs: false, cancellationToken) is not null)
            {
                return RunMapper.ToResource(run);
            }
        }

        try
        {
            await durable.ScheduleNewOrchestrationInstanceAsync(
                nameof(RunOrchestration),
                new RunOrchestrationInput(tenant.TenantId, run.RowKey, run.InputJson, run.MetadataJson, run.SignalTimeoutSeconds),
                new StartOrchestrationOptions(run.RowKey),
                CancellationToken.None);
        }
        catch
        {
            // No orchestration, no run: do not leave a record that would stay queued for ever.
            await runs.DeleteAsync(tenant.TenantId, run.RowKey, CancellationToken.None);
            throw;
        }

        LogCreated(logger, run.RowKey, tenant.TenantId);
        return RunMapper.ToResource(run);
    }

    public async Task<RunResource> GetAsync(TenantContext tenant, string runId, CancellationToken cancellationToken) =>
        RunMapper.ToResource(await FindAsync(tenant, runId, cancellationToken));

    public async Task<RunList> ListAsync(TenantContext tenant, string? status, string? cursor, int limit, CancellationToken cancellationToken)
    {
        var (page, next) = await runs.ListAsync(tenant.TenantId, status, cursor, limit, cancellationToken);
        return new RunList("list", page.Select(RunMapper.ToResource).ToList(), next);
    }

    public async Task<EventPage> ListEventsAsync(TenantContext tenant, string runId, long afterSeq, int limit, CancellationToken cancellationToken)
    {
        await FindAsync(tenant, runId, cancellationToken);
        var page = await events.ReadAsync(runId, afterSeq, limit + 1, cancellationToken);
        var hasMore = page.Count > limit;
        var data = page.Take(limit).Select(RunMapper.ToResource).ToList();
        return new EventPage("list", data, hasMore, data.Count > 0 ? data[^1].Seq : null);
    }

    public async Task<SignalAccepted> SignalAsync(
        TenantContext tenant, string runId, SignalRequest request, DurableTaskClient durable, CancellationToken cancellationToken)
    {
        var logged = request.PayloadJson is null ? null : redactor.Redact(request.PayloadJson);
        var decision = await runs.TryAcceptSignalAsync(
            tenant.TenantId, runId, request.Action, request.RequestId, request.PayloadJson, logged?.Json, logged?.Redacted ?? false, cancellationToken);
        switch (decision.Outcome)
        {
            case SignalOutcome.NotFound:
                throw ApiException.RunNotFound(runId);
            case SignalOutcome.NotAwaitingInput:
                throw ApiException.RunNotAwaitingInput(request.RequestId is null
                    ? $"Run '{runId}' is not awaiting input."
                    : $"Run '{runId}' is not awaiting input for request '{request.RequestId}'.");
            case SignalOutcome.ActionNotAllowed:
                throw ApiException.InvalidSignalType(
                    $"The pending request accepts {string.Join(", ", decision.AllowedActions!)}; '{request.Action}' is not one of them.");
        }

        var signal = decision.Signal!;
        try
        {
            await durable.RaiseEventAsync(runId, RunEventNames.Signal, signal, CancellationToken.None);
        }
#pragma warning disable CA1031 // The run record holds the accepted answer; the run's timer finds it there at the deadline.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            LogRaiseFailed(logger, ex, runId, signal.RequestId);
        }

        LogSignalAccepted(logger, runId, signal.RequestId, signal.Action);
        return new SignalAccepted(runId, signal.RequestId, signal.Action, "accepted", signal.AcceptedAt);
    }

    public async Task<CancelAccepted> CancelAsync(TenantContext tenant, string runId, DurableTaskClient durable, CancellationToken cancellationToken)
    {
        switch (await runs.RequestCancelAsync(tenant.TenantId, runId, cancellationToken))
        {
            case CancelDecision.NotFound:
                throw ApiException.RunNotFound(runId);
            case CancelDecision.NotCancellable:
                throw ApiException.RunNotCancellable(runId);
        }

        await durable.RaiseEventAsync(runId, RunEventNames.Cancel, new CancelEvent(time.GetUtcNow()), CancellationToken.None);
        return new CancelAccepted(runId, "run.cancel_request", "accepted");
    }

    private async Task<RunEntity> FindAsync(TenantContext tenant, string runId, CancellationToken cancellationToken) =>
        await runs.GetAsync(tenant.TenantId, runId, cancellationToken) ?? throw ApiException.RunNotFound(runId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Run {RunId} created for tenant {TenantId}")]
    private static partial void LogCreated(ILogger logger, string runId, string tenantId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Signal {Action} accepted for run {RunId}, request {RequestId}")]
    private static partial void LogSignalAccepted(ILogger logger, string runId, string requestId, string action);

    [LoggerMessage(Level = LogLevel.Error, Message = "Signal for run {RunId}, request {RequestId} was accepted but could not be raised; the run resumes at its deadline")]
    private static partial void LogRaiseFailed(ILogger logger, Exception exception, string runId, string requestId);
}
