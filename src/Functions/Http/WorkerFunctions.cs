using AgentRuns.Functions.Workers;
using Microsoft.AspNetCore.Http;
using Microsoft.Azure.Functions.Worker;

namespace AgentRuns.Functions.Http;

/// <summary>The HTTP workers API: thin functions that parse, validate, call <see cref="WorkerService"/> and map the result.</summary>
public sealed class WorkerFunctions(WorkerService workers, ApiEndpoint api)
{
    [Function(nameof(CreateWorker))]
    public Task<IResult> CreateWorker(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = "v1/workers")] HttpRequest req) =>
        api.HandlePostAsync(req, bodyRequired: true, async (caller, body, seed, ct) =>
        {
            var request = WorkerRequests.ParseCreate(body!.Value);
            var created = await workers.CreateAsync(caller, request, seed, ct);
            return ApiResults.Json(created, StatusCodes.Status201Created).WithHeader("Location", $"/v1/workers/{created.Name}");
        });

    [Function(nameof(ListWorkers))]
    public Task<IResult> ListWorkers(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "v1/workers")] HttpRequest req) =>
        api.HandleAsync(req, async (caller, ct) => ApiResults.Json(await workers.ListAsync(caller, ct)));

    [Function(nameof(GetWorker))]
    public Task<IResult> GetWorker(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "v1/workers/{name}")] HttpRequest req,
        string name) =>
        api.HandleAsync(req, async (caller, ct) => ApiResults.Json(await workers.GetAsync(caller, WorkerRequests.WorkerName(name), ct)));

    [Function(nameof(DeleteWorker))]
    public Task<IResult> DeleteWorker(
        [HttpTrigger(AuthorizationLevel.Anonymous, "delete", Route = "v1/workers/{name}")] HttpRequest req,
        string name) =>
        api.HandleAsync(req, async (caller, ct) =>
        {
            await workers.DeleteAsync(caller, WorkerRequests.WorkerName(name), ct);
            return Results.NoContent();
        });
}
