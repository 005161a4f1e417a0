using AgentRuns.Functions.Model;
using AgentRuns.Functions.Storage;
using Azure.Data.Tables;
using Microsoft.AspNetCore.Http;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Extensions.Logging;

namespace AgentRuns.Functions.Http;

/// <summary>
/// The routes without an API key. <c>/health</c> is liveness: it touches nothing and says the process serves.
/// <c>/health/ready</c> is readiness: it reads the Runs table (one point read, bounded to a few seconds) and answers 503
/// <c>storage_unavailable</c> while storage cannot be reached.
/// </summary>
public sealed partial class HealthFunctions(RunTables tables, ILogger<HealthFunctions> logger)
{
    private static readonly TimeSpan ReadinessTimeout = TimeSpan.FromSeconds(3);

    [Function(nameof(Health))]
    public IResult Health([HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "health")] HttpRequest req) =>
        ApiResults.Json(new { status = "ok" });

    [Function(nameof(Ready))]
    public async Task<IResult> Ready([HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "health/ready")] HttpRequest req)
    {
        ArgumentNullException.ThrowIfNull(req);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(req.HttpContext.RequestAborted);
        timeout.CancelAfter(ReadinessTimeout);
        try
        {
            await tables.Runs.GetEntityIfExistsAsync<TableEntity>("~health", "~", select: ["PartitionKey"], cancellationToken: timeout.Token);
            return ApiResults.Json(new { status = "ready", storage = "ok" });
        }
#pragma warning disable CA1031 // Readiness reports any failure to reach storage; it never throws.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            LogNotReady(logger, ex);
            return ApiResults.Problem(ApiException.StorageUnavailable(retryAfterSeconds: 10));
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Not ready: storage cannot be reached")]
    private static partial void LogNotReady(ILogger logger, Exception exception);
}
