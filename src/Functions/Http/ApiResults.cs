using AgentRuns.Functions.Model;
using Microsoft.AspNetCore.Http;

namespace AgentRuns.Functions.Http;

/// <summary>Responses in the API's JSON conventions.</summary>
public static class ApiResults
{
    public const string ProblemContentType = "application/problem+json";

    public static IResult Json<T>(T body, int status = StatusCodes.Status200OK) =>
        Results.Json(body, ApiJson.Options, "application/json; charset=utf-8", status);

    public static IResult Problem(ApiException problem) =>
        Results.Json(problem.ToBody(), ApiJson.Options, ProblemContentType, problem.Status);

    /// <summary>Adds a response header to a result.</summary>
    public static IResult WithHeader(this IResult result, string name, string value) => new HeaderResult(result, name, value);

    private sealed class HeaderResult(IResult inner, string name, string value) : IResult
    {
        public Task ExecuteAsync(HttpContext httpContext)
        {
            httpContext.Response.Headers[name] = value;
            return inner.ExecuteAsync(httpContext);
        }
    }
}
