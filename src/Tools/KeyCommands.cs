using AgentRuns.Functions.Security;
using AgentRuns.Functions.Storage;
using Azure;
using Azure.Data.Tables;
using Azure.Identity;

namespace AgentRuns.Tools;

/// <summary>
/// <c>mint-key</c> and <c>revoke-key</c>: API keys for a tenant. The key is printed once and stored only as its hash.
/// Against Azurite pass <c>--connection-string</c>; against Azure pass <c>--table-uri</c> and sign in with the Azure CLI
/// (the signed-in identity needs Storage Table Data Contributor). <c>--tenant-id</c> asks for a token of the
/// deployment's Microsoft Entra tenant, whatever the CLI's default tenant is.
/// </summary>
public static class KeyCommands
{
    public const string Usage = """
        usage:
          mint-key   --tenant <id> --name <who uses it: a person or a system, shown as who answered> (--connection-string <cs> | --table-uri <https://account.table.core.windows.net> [--tenant-id <entra tenant>]) [--table ApiKeys]
          revoke-key --hash <sha256 hex>          (--connection-string <cs> | --table-uri <uri> [--tenant-id <entra tenant>]) [--table ApiKeys]
        --tenant is the API tenant the key belongs to; --tenant-id is the Microsoft Entra tenant of the storage account
        (azd env get-value AZURE_TENANT_ID).
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
            // Without --tenant-id the credential takes AZURE_TENANT_ID, else the signed-in tool's default tenant, which
            // may not be the storage account's: its token is then refused.
            var credentialOptions = new DefaultAzureCredentialOptions();
            if (options.TryGetValue("tenant-id", out var tenantId))
            {
                credentialOptions.TenantId = tenantId;
            }

            service = new TableServiceClient(new Uri(uri), new DefaultAzureCredential(credentialOptions));
        }
        else
        {
            await error.WriteLineAsync($"give --connection-string or --table-uri\n{Usage}");
            return 2;
        }

        try
        {
            return await RunAsync(args[0], options, service, output, error);
        }
        catch (RequestFailedException ex) when (ex.Status == 403)
        {
            await error.WriteLineAsync(
                $"storage refused the call (403 {ex.ErrorCode}). A role assignment azd just made can take a few minutes to apply: "
                + "try again shortly. Otherwise sign in as the user azd granted the roles to, in the deployment's tenant "
                + "(az login --tenant \"$(azd env get-value AZURE_TENANT_ID)\"), and pass --tenant-id.");
            return 1;
        }
        catch (AuthenticationFailedException ex)
        {
            await error.WriteLineAsync(
                $"could not get a token: {ex.Message}\nSign in with: az login --tenant \"$(azd env get-value AZURE_TENANT_ID)\"");
            return 1;
        }
        catch (ArgumentException ex)
        {
            await error.WriteLineAsync($"{ex.Message}\n{Usage}"); // a malformed --tenant or --hash
            return 2;
        }
    }

    private static async Task<int> RunAsync(string command, Dictionary<string, string> options, TableServiceClient service, TextWriter output, TextWriter error)
    {
        var tables = new RunTables(service, new RunStorageOptions { ApiKeysTable = options.GetValueOrDefault("table", "ApiKeys") });
        await tables.ApiKeys.CreateIfNotExistsAsync();
        var store = new ApiKeyStore(tables, TimeProvider.System);

        if (command == "mint-key")
        {
            if (!options.TryGetValue("tenant", out var tenant) || !options.TryGetValue("name", out var name))
            {
                await error.WriteLineAsync($"mint-key needs --tenant and --name\n{Usage}");
                return 2;
            }

            var minted = await store.MintAsync(tenant, name);
            await output.WriteLineAsync($"api_key: {minted.Key}");
            await output.WriteLineAsync($"tenant:  {minted.TenantId}");
            await output.WriteLineAsync($"key_id:  {minted.KeyId}   (shown with --name as who answered a request)");
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
