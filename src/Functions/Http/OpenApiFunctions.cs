using AgentRuns.Functions.Model;
using Microsoft.AspNetCore.Http;
using Microsoft.Azure.Functions.Worker;

namespace AgentRuns.Functions.Http;

/// <summary>
/// <c>GET /openapi.json</c>: the API's OpenAPI 3.1 document (<c>src/Functions/OpenApi/openapi.json</c>), public like the
/// API's documentation, so that tools can fetch it without a key and generate clients from it.
/// </summary>
public sealed class OpenApiFunctions(ShippedFiles files)
{
    private static readonly IReadOnlyDictionary<string, string> Headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase)
    {
        ["X-Content-Type-Options"] = "nosniff",
        ["Access-Control-Allow-Origin"] = "*",
    };

    [Function(nameof(GetOpenApiDocument))]
    public IResult GetOpenApiDocument(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "openapi.json")] HttpRequest req)
    {
        ArgumentNullException.ThrowIfNull(req);
        return files.OpenApiDocument is { } document
            ? StaticFiles.Serve(req, document, Headers)
            : ApiResults.Problem(new ApiException(
                StatusCodes.Status500InternalServerError, ReasonCodes.InternalError, "Internal error", "The OpenAPI document is missing from this deployment."));
    }
}
