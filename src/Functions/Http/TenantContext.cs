using Microsoft.AspNetCore.Http;

namespace AgentRuns.Functions.Http;

/// <summary>Who is calling: every read and write is scoped by this tenant.</summary>
public sealed record TenantContext(string TenantId);

/// <summary>Finds the caller's tenant from the request (or refuses it with an <see cref="ApiException"/>).</summary>
public interface ITenantResolver
{
    ValueTask<TenantContext> ResolveAsync(HttpRequest request, CancellationToken cancellationToken);
}
