using AgentRuns.Functions.Model;
using Microsoft.AspNetCore.Http;

namespace AgentRuns.Functions.Security;

/// <summary>Finds who calls from the request (or refuses it with an <see cref="ApiException"/>).</summary>
public interface ICallerResolver
{
    ValueTask<Caller> ResolveAsync(HttpRequest request, CancellationToken cancellationToken);
}

/// <summary>
/// <c>Authorization: Bearer &lt;api key&gt;</c> → the key's tenant and identity. Missing, malformed, unknown and revoked keys all
/// get 401 with <c>WWW-Authenticate: Bearer</c>. No cache: a revoked key stops working at once.
/// </summary>
public sealed class ApiKeyCallerResolver(ApiKeyStore keys) : ICallerResolver
{
    public async ValueTask<Caller> ResolveAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var header = request.Headers.Authorization;
        if (header.Count == 0 || string.IsNullOrEmpty(header[0]))
        {
            throw ApiException.Unauthorized("Send an API key as 'Authorization: Bearer <key>'.", bearerError: null);
        }

        var value = header.Count == 1 ? header[0]! : "";
        const string Scheme = "Bearer ";
        if (!value.StartsWith(Scheme, StringComparison.OrdinalIgnoreCase))
        {
            throw ApiException.Unauthorized("The Authorization header must use the Bearer scheme.", bearerError: "invalid_request");
        }

        var key = value[Scheme.Length..].Trim();
        if (!ApiKeyStore.IsPlausible(key))
        {
            throw ApiException.Unauthorized("The API key is malformed.");
        }

        return await keys.FindAsync(key, cancellationToken) ?? throw ApiException.Unauthorized("The API key is unknown or revoked.");
    }
}
