using AgentRuns.Functions.Agents;
using AgentRuns.Functions.Model;
using AgentRuns.Functions.Orchestrations;
using AgentRuns.Functions.Security;
using AgentRuns.Functions.Storage;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace AgentRuns.Functions.Runs;

/// <summary>
/// What the API does with runs: it validates nothing (the HTTP layer did), decides nothing (<see cref="RunTransitions"/>
/// does), and talks to the run store and the engine. Once a decision is made, its write and the raise that follows are
/// not cancelled by the client going away.
/// </summary>
public sealed partial class RunService(
    RunStore runs, AgentCatalog agents, PayloadRedactor redactor, IOptions<RunOptions> options, TimeProvider time, ILogger<RunService> logger)
{
    /// <param name="seed">Set for a request with an idempotency key: the run id derives from it, so a retry that takes over
    /// from an attempt that died finds that attempt's run instead of making a second one.</param>
    public async Task<RunResource> CreateAsync(Caller caller, CreateRunRequest request, IRunEngine engine, IdempotencySeed? seed, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(engine);
        var agent = request.Agent ?? agents.Default;
        if (await agents.UnavailableBecauseAsync(caller.TenantId, agent, cancellationToken) is { } unavailable)
        {
            throw ApiException.AgentNotAvailable(unavailable);
        }

        var createdAt = seed?.CreatedAt ?? time.GetUtcNow();
        var runId = seed is null ? RunIds.New(createdAt) : RunIds.FromSeed(createdAt, seed.Key);
        var creation = RunTransitions.Create(
            caller.TenantId, runId, request.InputJson, request.MetadataJson,
            request.SignalTimeoutSeconds ?? options.Value.DefaultSignalTimeoutSeconds, createdAt, agent);

        // From here on the client going away changes nothing: the run is made and started, or the repairer starts it.
        var run = await runs.CreateAsync(creation, CancellationToken.None)
            ? creation.Outcome
            : await runs.GetAsync(caller.TenantId, runId, CancellationToken.None) ?? throw new InvalidOperationException($"Run {runId} collided and is gone.");
        if (run.Status == RunStatus.Queued)
        {
            await engine.StartAsync(new RunOrchestrationInput(run.TenantId, run.RunId, run.InputJson, run.SignalTimeoutSeconds, run.Agent));
        }

        LogCreated(logger, run.RunId, caller.TenantId);
        return RunMapper.ToResource(run);
    }

    public async Task<RunResource> GetAsync(Caller caller, string runId, CancellationToken cancellationToken) =>
        RunMapper.ToResource(await FindAsync(caller, runId, cancellationToken));

    public async Task<RunRecord> FindAsync(Caller caller, string runId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        return await runs.GetAsync(caller.TenantId, runId, cancellationToken) ?? throw ApiException.RunNotFound(runId);
    }

    public async Task<RunList> ListAsync(Caller caller, string? status, string? cursor, int limit, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        var (page, next) = await runs.ListAsync(caller.TenantId, status, cursor, limit, cancellationToken);
        return new RunList("list", page.Select(RunMapper.ToResource).ToList(), next);
    }

    public async Task<EventPage> ListEventsAsync(Caller caller, string runId, long afterSeq, int limit, CancellationToken cancellationToken)
    {
        await FindAsync(caller, runId, cancellationToken);
        var page = await runs.ReadEventsAsync(caller.TenantId, runId, afterSeq, limit + 1, cancellationToken);
        var hasMore = page.Count > limit;
        var data = page.Take(limit).Select(RunMapper.ToResource).ToList();
        return new EventPage("list", data, hasMore, data.Count > 0 ? data[^1].Seq : null);
    }

    public async Task<SignalAccepted> SignalAsync(
        Caller caller, string runId, SignalRequest request, IRunEngine engine, IdempotencySeed? seed, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(engine);
        var logged = request.PayloadJson is null ? null : redactor.Redact(request.PayloadJson);
        // Every attempt carries a key the answer records: the request's idempotency key, or one of its own. A write whose
        // response was lost and that the storage client retried then finds its own answer, and says accepted, not 409.
        var command = new SignalCommand(
            request.Action, request.RequestId, request.PayloadJson, logged?.Json, logged?.Redacted ?? false, caller.Actor,
            seed?.Id ?? $"attempt:{Guid.NewGuid():N}");

        // Validated: from here the client going away cancels nothing. The decision is written, then raised.
        var outcome = await runs.ApplyAsync(caller.TenantId, runId, (run, now) => RunTransitions.AcceptSignal(run, command, now), CancellationToken.None);
        switch (outcome.Verdict)
        {
            case SignalVerdict.NotFound:
                throw ApiException.RunNotFound(runId);
            case SignalVerdict.NotAwaitingInput:
                throw ApiException.RunNotAwaitingInput(outcome.Detail!);
            case SignalVerdict.ActionNotAllowed:
                throw ApiException.InvalidSignalType(
                    $"The pending request accepts {string.Join(", ", outcome.AllowedActions!)}; '{request.Action}' is not one of them.");
            case SignalVerdict.InvalidPayload:
                throw ApiException.InvalidSignalPayload(outcome.Detail!, outcome.Status, outcome.Errors);
        }

        var answer = outcome.Answer!;
        if (!answer.Consumed)
        {
            // Raised again for a replay too: if the first raise was lost, this one delivers it (duplicates are discarded).
            await engine.RaiseSignalAsync(runId, SignalEvent.From(answer));
        }

        LogSignalAccepted(logger, runId, answer.RequestId, answer.Action, outcome.Verdict == SignalVerdict.Replayed);
        return new SignalAccepted(runId, answer.RequestId, answer.Action, "accepted", answer.AcceptedAt, answer.Actor);
    }

    /// <summary>Moves the deadline of the run's pending request; the orchestration is told so it plans its timers again.</summary>
    /// <param name="seed">Set for a request with an idempotency key: a retry that takes over from an attempt that died after its
    /// write finds that write instead of extending again.</param>
    public async Task<RequestExtended> ExtendAsync(
        Caller caller, string runId, string requestId, ExtendRequest request, IdempotencySeed? seed, IRunEngine engine, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(engine);
        var longest = TimeSpan.FromSeconds(options.Value.MaxSignalTimeoutSeconds);

        // The new deadline is decided on the record the write lands on (extensions that race add up); the attempt names this
        // extend, so a retried write that already landed is recognised rather than applied twice.
        // With a key, the attempt is the request the key names (a key used again after its retention is another extend) and
        // what it asks for.
        var attempt = seed is null
            ? Guid.NewGuid().ToString("N")
            : $"{seed.Id}|{(request.ExpiresAt is { } at ? ApiJson.FormatTimestamp(at) : "+" + request.ExtendBySeconds)}";
        var outcome = await runs.ApplyAsync(
            caller.TenantId, runId, (run, now) => RunTransitions.Extend(run, requestId, request, longest, caller.Actor, now, attempt), CancellationToken.None);
        switch (outcome.Verdict)
        {
            case ExtendVerdict.NotFound:
                throw ApiException.RunNotFound(runId);
            case ExtendVerdict.NotAwaitingInput:
                throw ApiException.RunNotAwaitingInput(outcome.Detail!);
            case ExtendVerdict.Invalid:
                throw ApiException.InvalidRequest(outcome.Detail!);
            case ExtendVerdict.LimitReached:
                throw ApiException.ExtendLimitReached(outcome.Detail!);
        }

        // Raised again for a retry too (if the first raise was lost, this one delivers it), with the deadline as it is now.
        if (outcome.PendingExpiresAt is { } current)
        {
            await engine.RaiseDeadlineMovedAsync(runId, new DeadlineMovedEvent(requestId, current));
        }

        return new RequestExtended("request.extension", runId, requestId, outcome.ExpiresAt!.Value, outcome.PreviousExpiresAt!.Value);
    }

    /// <summary>The tenant's pending requests across runs, soonest deadline first; expired ones (about to be closed) left out.</summary>
    public async Task<RequestList> ListPendingRequestsAsync(Caller caller, string? cursor, int limit, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        var now = time.GetUtcNow();
        var (page, next) = await runs.ListPendingAsync(caller.TenantId, cursor, limit, cancellationToken);
        var data = page.Where(p => p.Request.ExpiresAt > now).Select(p => new RawJson(RequestResources.Pending(p.RunId, p.Request))).ToList();
        return new RequestList("list", data, next is null ? null : RequestResources.EncodeCursor(next));
    }

    /// <summary>Cancels the run at once; <paramref name="reason"/>, when given, becomes its error reason and is on <c>run.cancelled</c>.</summary>
    /// <param name="seed">Set for a request with an idempotency key: the cancel is named by the key, so a retry that takes over
    /// from an attempt that died after its write finds its own cancel and is accepted again, instead of a 409 (which would be
    /// stored and replayed for the key from then on).</param>
    public async Task<CancelAccepted> CancelAsync(
        Caller caller, string runId, string? reason, IdempotencySeed? seed, IRunEngine engine, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        ArgumentNullException.ThrowIfNull(engine);
        var attempt = seed is null ? Guid.NewGuid().ToString("N") : $"key:{seed.Id}";
        switch (await runs.ApplyAsync(caller.TenantId, runId, (run, now) => RunTransitions.Cancel(run, caller.Actor, now, attempt, reason), CancellationToken.None))
        {
            case CancelOutcome.NotFound:
                throw ApiException.RunNotFound(runId);
            case CancelOutcome.NotCancellable:
                throw ApiException.RunNotCancellable(runId);
        }

        await engine.RaiseCancelAsync(runId, new CancelEvent(time.GetUtcNow()));
        return new CancelAccepted(runId, "run.cancel_request", "accepted");
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Run {RunId} created for tenant {TenantId}")]
    private static partial void LogCreated(ILogger logger, string runId, string tenantId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Signal {Action} accepted for run {RunId}, request {RequestId} (replayed: {Replayed})")]
    private static partial void LogSignalAccepted(ILogger logger, string runId, string requestId, string action, bool replayed);
}
