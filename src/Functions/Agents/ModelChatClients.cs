using System.ClientModel;
using System.ClientModel.Primitives;
using AgentRuns.Functions.Storage;
using Azure.AI.OpenAI;
using Azure.Core;
using Azure.Identity;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Options;
using OpenAI;
using OpenAI.Chat;

namespace AgentRuns.Functions.Agents;

/// <summary>
/// Builds the model agent's <see cref="IChatClient"/> from <see cref="ModelAgentOptions"/>: Azure OpenAI with a Microsoft Entra
/// token (the app's user-assigned identity, <c>RunStorage:ClientId</c>, in Azure; the Azure CLI's sign-in elsewhere) when no key is
/// set and the endpoint is Azure OpenAI's, else the OpenAI Chat Completions API at <c>{Endpoint}/chat/completions</c>. Either way
/// requests go through the <see cref="HttpClientName"/> client, whose resilience handler is the one place model calls are retried
/// (the SDK's own retries are off).
/// </summary>
public sealed class ModelChatClients(IHttpClientFactory httpClients, IOptions<ModelAgentOptions> options, IOptions<RunStorageOptions> storage)
{
    /// <summary>The named <see cref="HttpClient"/> model calls go through (see <see cref="ModelAgentServiceCollectionExtensions"/>).</summary>
    public const string HttpClientName = "ModelAgent";

    public IChatClient Create()
    {
        var o = options.Value;
        if (!o.IsConfigured)
        {
            throw new InvalidOperationException("The model agent is not configured: set ModelAgent:Endpoint and ModelAgent:Model.");
        }

        var endpoint = new Uri(o.Endpoint!);
        var transport = new HttpClientPipelineTransport(httpClients.CreateClient(HttpClientName));

        // The resilience handler retries inside one SendAsync: the SDK's timeout must cover all of its attempts.
        var networkTimeout = ModelAgentServiceCollectionExtensions.TotalTimeout(o) + TimeSpan.FromSeconds(30);
        ChatClient chat;
        if (o.UsesAzureIdentity)
        {
            var azure = new AzureOpenAIClientOptions { Transport = transport, RetryPolicy = new ClientRetryPolicy(maxRetries: 0), NetworkTimeout = networkTimeout };
            chat = new AzureOpenAIClient(endpoint, Credential(), azure).GetChatClient(o.Model);
        }
        else
        {
            var openAi = new OpenAIClientOptions
            {
                Endpoint = endpoint,
                Transport = transport,
                RetryPolicy = new ClientRetryPolicy(maxRetries: 0),
                NetworkTimeout = networkTimeout,
            };

            // A local server usually needs no key: then no Authorization header goes out (the SDK insists on a credential).
            if (string.IsNullOrWhiteSpace(o.ApiKey))
            {
                openAi.AddPolicy(new NoAuthorizationHeader(), PipelinePosition.BeforeTransport);
            }

            chat = new ChatClient(o.Model, new ApiKeyCredential(string.IsNullOrWhiteSpace(o.ApiKey) ? "none" : o.ApiKey), openAi);
        }

        return chat.AsIChatClient();
    }

    /// <summary>Takes the placeholder credential off a request to an endpoint that needs none.</summary>
    private sealed class NoAuthorizationHeader : PipelinePolicy
    {
        public override void Process(PipelineMessage message, IReadOnlyList<PipelinePolicy> pipeline, int currentIndex)
        {
            message.Request.Headers.Remove("Authorization");
            ProcessNext(message, pipeline, currentIndex);
        }

        public override ValueTask ProcessAsync(PipelineMessage message, IReadOnlyList<PipelinePolicy> pipeline, int currentIndex)
        {
            message.Request.Headers.Remove("Authorization");
            return ProcessNextAsync(message, pipeline, currentIndex);
        }
    }

    private TokenCredential Credential() =>
        storage.Value.ClientId is { Length: > 0 } clientId
            ? new ManagedIdentityCredential(ManagedIdentityId.FromUserAssignedClientId(clientId))
            : new AzureCliCredential();
}
