using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace AgentRuns.Functions.Http;

/// <summary>
/// The one place that turns a request into a response: resolves the tenant, runs the handler, and maps every
/// failure to problem+json. Unexpected failures are logged and answered with a 500 that carries no detail.
/// </summary>
public sealed partial class ApiEndpoint(ITenantResolver tenants, ILogger<ApiEndpoint> logger)
{
    public async Task<IResult> HandleAsync(HttpRequest request, Func<TenantContext, CancellationToken, Task<IResult>> handler)
    {
        var cancellationToken = request.HttpContext.RequestAborted;
        try
        {
            var tenant = await tenants.ResolveAsync(request, cancellationToken);
            return await handler(tenant, cancellationToken);
        }
        catch (ApiException problem)
        {
            return ApiResults.Problem(problem);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return Results.StatusCode(499); // the client went away; nobody reads this
        }
#pragma warning disable CA1031 // This is the boundary: nothing may escape as a stack trace or an HTML page.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            LogUnexpected(logger, ex, request.Method, request.Path);
            return ApiResults.Problem(new ApiException(
                StatusCodes.Status500InternalServerError, ReasonCodes.InternalError, "Internal error", "The service failed to handle the request. Retry it later."));
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Unhandled failure in {Method} {Path}")]
    private static partial void LogUnexpected(ILogger logger, Exception exception, string method, string path);
}
