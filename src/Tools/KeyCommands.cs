using AgentRuns.Functions.Security;
using AgentRuns.Functions.Storage;
using Azure.Data.Tables;
using Azure.Identity;

namespace AgentRuns.Tools;

/// <summary>
/// <c>mint-key</c> and <c>revoke-key</c>: API keys for a tenant. The key is printed once and stored only as its hash.
/// Against Azurite pass <c>--connection-string</c>; against Azure pass <c>--table-uri</c> and sign in with the Azure CLI
/// (the signed-in identity needs Storage Table Data Contributor).
/// </summary>
public static class KeyCommands
{
    public const string Usage = """
        usage:
          mint-key   --tenant <id> --name <label> (--connection-string <cs> | --table-uri <https://account.table.core.windows.net>) [--table ApiKeys]
          revoke-key --hash <sha256 hex>          (--connection-string <cs> | --table-uri <uri>) [--table ApiKeys]
        """;

    public static async Task<int> RunAsync(string[] args, TextWriter output, TextWriter error)
    {
        if (args.Length == 0 || args[0] is not ("mint-key" or "revoke-key"))
        {
            await error.WriteLineAsync(Usage);
            return 2;
        }

        var options = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 1; i < args.Length; i += 2)
        {
            if (!args[i].StartsWith("--", StringComparison.Ordinal) || i + 1 >= args.Length)
            {
                await error.WriteLineAsync($"unexpected argument '{args[i]}'\n{Usage}");
                return 2;
            }

            options[args[i][2..]] = args[i + 1];
        }

        TableServiceClient service;
        if (options.TryGetValue("connection-string", out var connectionString))
        {
            service = new TableServiceClient(connectionString);
        }
        else if (options.TryGetValue("table-uri", out var uri))
        {
            service = new TableServiceClient(new Uri(uri), new DefaultAzureCredential());
        }
        else
        {
            await error.WriteLineAsync($"give --connection-string or --table-uri\n{Usage}");
            return 2;
        }

        var tables = new RunTables(service, new RunStorageOptions { ApiKeysTable = options.GetValueOrDefault("table", "ApiKeys") });
        await tables.ApiKeys.CreateIfNotExistsAsync();
        var store = new ApiKeyStore(tables, TimeProvider.System);

        if (args[0] == "mint-key")
        {
            if (!options.TryGetValue("tenant", out var tenant) || !options.TryGetValue("name", out var name))
            {
                await error.WriteLineAsync($"mint-key needs --tenant and --name\n{Usage}");
                return 2;
            }

            var minted = await store.MintAsync(tenant, name);
            await output.WriteLineAsync($"api_key: {minted.Key}");
            await output.WriteLineAsync($"tenant:  {minted.TenantId}");
            await output.WriteLineAsync($"hash:    {minted.Hash}   (keep this to revoke the key; the key itself is not stored)");
            return 0;
        }

        if (!options.TryGetValue("hash", out var hash))
        {
            await error.WriteLineAsync($"revoke-key needs --hash\n{Usage}");
            return 2;
        }

        if (!await store.RevokeAsync(hash))
        {
            await error.WriteLineAsync("no key with that hash");
            return 1;
        }

        await output.WriteLineAsync("revoked");
        return 0;
    }
}
