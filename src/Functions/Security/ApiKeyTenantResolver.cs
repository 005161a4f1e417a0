using AgentRuns.Functions.Http;
using Microsoft.AspNetCore.Http;

namespace AgentRuns.Functions.Security;

/// <summary>
/// <c>Authorization: Bearer &lt;api key&gt;</c> → the key's tenant. Missing, malformed, unknown and revoked keys all get
/// 401 with <c>WWW-Authenticate: Bearer</c>. No cache: a revoked key stops working at once.
/// </summary>
public sealed class ApiKeyTenantResolver(ApiKeyStore keys) : ITenantResolver
{
    public async ValueTask<TenantContext> ResolveAsync(HttpRequest request, CancellationToken cancellationToken)
    {
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

        var tenant = await keys.FindTenantAsync(key, cancellationToken);
        return tenant is null
            ? throw ApiException.Unauthorized("The API key is unknown or revoked.")
            : new TenantContext(tenant);
    }
}
