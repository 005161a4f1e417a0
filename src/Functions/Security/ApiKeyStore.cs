using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using AgentRuns.Functions.Model;
using AgentRuns.Functions.Storage;
using Azure;
using Azure.Data.Tables;

namespace AgentRuns.Functions.Security;

/// <summary>A key as it was minted: the only moment the key itself exists outside the caller's hands.</summary>
public sealed record MintedKey(string Key, string Hash, string KeyId, string TenantId, string Name);

/// <summary>API keys, stored only as SHA-256 hashes. Keys are 256 random bits, so a plain hash is enough.</summary>
public sealed partial class ApiKeyStore(RunTables tables, TimeProvider time)
{
    public const string Prefix = "ark_";
    private readonly TableClient _keys = tables.ApiKeys;

    public static string Hash(string key) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)));

    /// <summary>
    /// The key's public id (<c>key_</c> + 16 hex digits), shown as who answered a request. Derived from the stored hash by a
    /// second, domain-separated hash: it names the key without revealing the key or its hash.
    /// </summary>
    public static string KeyIdFor(string hash) =>
        "key_" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes("agent-runs/key-id/" + hash)))[..16];

    /// <summary>True for text that can be a key at all (checked before any lookup).</summary>
    public static bool IsPlausible(string key) => KeyShape().IsMatch(key);

    public async Task<MintedKey> MintAsync(string tenantId, string name, CancellationToken cancellationToken = default)
    {
        ValidateTenant(tenantId);
        var key = Prefix + Base64UrlEncode(RandomNumberGenerator.GetBytes(32));
        var hash = Hash(key);
        try
        {
            await _keys.AddEntityAsync(
                new ApiKeyEntity { RowKey = hash, TenantId = tenantId, Name = name, CreatedAt = time.GetUtcNow() }, cancellationToken);
        }
        catch (RequestFailedException ex) when (ex.Status == (int)HttpStatusCode.Conflict)
        {
            // 256 fresh random bits do not collide: the row there is this insert, which landed while its response was lost and
            // the storage client sent it again. Check it all the same before handing out the key.
            var stored = await _keys.GetEntityAsync<ApiKeyEntity>(ApiKeyEntity.Partition, hash, cancellationToken: cancellationToken);
            if (stored.Value.TenantId != tenantId || stored.Value.Name != name)
            {
                throw;
            }
        }

        return new MintedKey(key, hash, KeyIdFor(hash), tenantId, name);
    }

    /// <summary>Stores a known key (the development key). Idempotent.</summary>
    public async Task EnsureAsync(string key, string tenantId, string name, CancellationToken cancellationToken = default)
    {
        ValidateTenant(tenantId);
        try
        {
            await _keys.AddEntityAsync(
                new ApiKeyEntity { RowKey = Hash(key), TenantId = tenantId, Name = name, CreatedAt = time.GetUtcNow() }, cancellationToken);
        }
        catch (RequestFailedException ex) when (ex.Status == (int)HttpStatusCode.Conflict)
        {
            // Already there.
        }
    }

    /// <summary>The caller an active key stands for (its tenant, id and name), or null for an unknown or revoked key.</summary>
    public async Task<Caller?> FindAsync(string key, CancellationToken cancellationToken = default)
    {
        var hash = Hash(key);
        var found = await _keys.GetEntityIfExistsAsync<ApiKeyEntity>(ApiKeyEntity.Partition, hash, cancellationToken: cancellationToken);
        if (!found.HasValue || found.Value!.RevokedAt is not null)
        {
            return null;
        }

        // The lookup is by hash; compare the stored hash in constant time all the same.
        var entity = found.Value;
        return CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(entity.RowKey), Encoding.ASCII.GetBytes(hash))
            ? new Caller(entity.TenantId, new Actor(KeyIdFor(hash), entity.Name))
            : null;
    }

    public async Task<bool> RevokeAsync(string hash, CancellationToken cancellationToken = default)
    {
        var found = await _keys.GetEntityIfExistsAsync<ApiKeyEntity>(ApiKeyEntity.Partition, hash, cancellationToken: cancellationToken);
        if (!found.HasValue)
        {
            return false;
        }

        var entity = found.Value!;
        entity.RevokedAt ??= time.GetUtcNow();
        await _keys.UpdateEntityAsync(entity, ETag.All, TableUpdateMode.Replace, cancellationToken);
        return true;
    }

    private static void ValidateTenant(string tenantId)
    {
        if (!TenantShape().IsMatch(tenantId))
        {
            throw new ArgumentException("A tenant id is 1 to 64 letters, digits, '-' or '_'.", nameof(tenantId));
        }
    }

    private static string Base64UrlEncode(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    [GeneratedRegex("^[A-Za-z0-9_.~+/=-]{8,256}\\z", RegexOptions.CultureInvariant)]
    private static partial Regex KeyShape();

    [GeneratedRegex("^[A-Za-z0-9_-]{1,64}\\z", RegexOptions.CultureInvariant)]
    private static partial Regex TenantShape();
}
