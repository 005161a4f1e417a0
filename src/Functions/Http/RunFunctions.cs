using AgentRuns.Functions.Model;
using AgentRuns.Functions.Orchestrations;
using AgentRuns.Functions.Runs;
using AgentRuns.Functions.Streaming;
using Microsoft.AspNetCore.Http;
using Microsoft.Azure.Functions.Worker;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace AgentRuns.Functions.Http;

/// <summary>The runs API: thin functions that parse, validate, call <see cref="RunService"/> and map the result.</summary>
public sealed class RunFunctions(RunService runs, ApiEndpoint api, RunEventStream stream, IOptions<RunOptions> options, ILogger<RunEngine> engineLogger)
{
    [Function(nameof(CreateRun))]
    public Task<IResult> CreateRun(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = "v1/runs")] HttpRequest req,
        [DurableClient] DurableTaskClient durable) =>
        api.HandlePostAsync(req, bodyRequired: true, async (caller, body, seed, ct) =>
        {
            var request = RunRequests.ParseCreate(body!.Value, options.Value.MaxSignalTimeoutSeconds);
            var run = await runs.CreateAsync(caller, request, Engine(durable), seed, ct);
            return ApiResults.Json(run, StatusCodes.Status201Created).WithHeader("Location", $"/v1/runs/{run.Id}");
        });

    [Function(nameof(GetRun))]
    public Task<IResult> GetRun(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "v1/runs/{id}")] HttpRequest req,
        string id) =>
        api.HandleAsync(req, async (caller, ct) => ApiResults.Json(await runs.GetAsync(caller, RequestReader.RunId(id), ct)));

    [Function(nameof(ListRuns))]
    public Task<IResult> ListRuns(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "v1/runs")] HttpRequest req) =>
        api.HandleAsync(req, async (caller, ct) =>
        {
            var status = RequestReader.QueryValue(req, "status");
            if (status is not null && !RunStatus.All.Contains(status))
            {
                throw ApiException.InvalidRequest($"'status' must be one of {string.Join(", ", RunStatus.All)}.");
            }

            var cursor = RequestReader.QueryValue(req, "cursor");
            if (cursor is not null && !RunIds.IsWellFormed(cursor))
            {
                throw ApiException.InvalidRequest("'cursor' is not a cursor this API returned.");
            }

            var limit = RequestReader.QueryInt(req, "limit", 20, 1, 100);
            return ApiResults.Json(await runs.ListAsync(caller, status, cursor, limit, ct));
        });

    [Function(nameof(ListRunEvents))]
    public Task<IResult> ListRunEvents(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "v1/runs/{id}/events")] HttpRequest req,
        string id) =>
        api.HandleAsync(req, async (caller, ct) =>
        {
            var runId = RequestReader.RunId(id);
            var afterSeq = RequestReader.QueryLong(req, "after_seq", 0, 0, 9_999_999_999);
            var limit = RequestReader.QueryInt(req, "limit", 100, 1, 1000);
            return ApiResults.Json(await runs.ListEventsAsync(caller, runId, afterSeq, limit, ct));
        });

    [Function(nameof(StreamRunEvents))]
    public Task<IResult> StreamRunEvents(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "v1/runs/{id}/events/stream")] HttpRequest req,
        string id) =>
        api.HandleAsync(req, async (caller, ct) =>
        {
            var runId = RequestReader.RunId(id);
            var fromQuery = RequestReader.QueryLong(req, "after_seq", 0, 0, 9_999_999_999); // checked even when Last-Event-ID wins
            var afterSeq = RequestReader.LastEventId(req) ?? fromQuery;
            var run = await runs.FindAsync(caller, runId, ct); // 404 before any stream starts

            // The record and its events are written together, so the record's end is the log's end: a client that has seen
            // the terminal event gets an empty stream that ends at once.
            var ended = run.IsTerminal && afterSeq >= run.LastEventSeq;
            return stream.Result(caller.TenantId, runId, afterSeq, ended);
        });

    [Function(nameof(SignalRun))]
    public Task<IResult> SignalRun(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = "v1/runs/{id}/signal")] HttpRequest req,
        string id,
        [DurableClient] DurableTaskClient durable) =>
        api.HandlePostAsync(req, bodyRequired: true, async (caller, body, seed, ct) =>
        {
            var runId = RequestReader.RunId(id);
            var request = RunRequests.ParseSignal(body!.Value);
            return ApiResults.Json(await runs.SignalAsync(caller, runId, request, Engine(durable), seed, ct), StatusCodes.Status202Accepted);
        });

    [Function(nameof(CancelRun))]
    public Task<IResult> CancelRun(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = "v1/runs/{id}/cancel")] HttpRequest req,
        string id,
        [DurableClient] DurableTaskClient durable) =>
        api.HandlePostAsync(req, bodyRequired: false, async (caller, body, seed, ct) =>
        {
            var runId = RequestReader.RunId(id);
            string? reason = null;
            if (body is not null)
            {
                RequestReader.RejectUnknownMembers(body.Value, "idempotency_key", "reason");
                reason = RequestReader.OptionalString(body.Value, "reason", 4096);
            }

            return ApiResults.Json(await runs.CancelAsync(caller, runId, reason, seed, Engine(durable), ct), StatusCodes.Status202Accepted);
        });

    private RunEngine Engine(DurableTaskClient durable) => new(durable, engineLogger);
}
