using Microsoft.AspNetCore.Http;
using Microsoft.Azure.Functions.Worker;

namespace AgentRuns.Functions.Http;

/// <summary>The one route without an API key: a liveness probe that touches nothing.</summary>
public sealed class HealthFunctions
{
    [Function(nameof(Health))]
    public IResult Health([HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "health")] HttpRequest req) =>
        ApiResults.Json(new { status = "ok" });
}
